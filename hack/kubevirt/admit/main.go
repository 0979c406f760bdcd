// Command kubevirt-admit runs KubeVirt's own admission checks of VirtualMachines, the code that
// virt-api's validating webhook runs (pkg/virt-api/webhooks/validating-webhook/admitters), on
// the VirtualMachines of a JSON stream on stdin, with KubeVirt's default configuration. It prints
// one line per refusal (the VM, the field and KubeVirt's message) and exits 1 when there is any.
//
// It lets tests hold what Nimbus writes to KubeVirt's rules without a running virt-api;
// hack/build-control-plane.sh compiles it inside the KubeVirt wrapper module.
//
// Usage: kubectl get vm -A -o json | jq -c '.items[]' | kubevirt-admit
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	k8sfield "k8s.io/apimachinery/pkg/util/validation/field"

	v1 "kubevirt.io/api/core/v1"

	"kubevirt.io/kubevirt/pkg/testutils"
	"kubevirt.io/kubevirt/pkg/virt-api/webhooks/validating-webhook/admitters"
)

func main() {
	config, _, _ := testutils.NewFakeClusterConfigUsingKVConfig(&v1.KubeVirtConfiguration{})
	decoder := json.NewDecoder(os.Stdin)
	refused, checked := 0, 0
	for {
		var vm v1.VirtualMachine
		if err := decoder.Decode(&vm); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "kubevirt-admit: not a VirtualMachine:", err)
			os.Exit(2)
		}
		checked++
		for _, cause := range admitters.ValidateVirtualMachineSpec(
			k8sfield.NewPath("spec"), &vm.Spec, config, false) {
			refused++
			fmt.Printf("%s/%s: %s: %s\n", vm.Namespace, vm.Name, cause.Field, cause.Message)
		}
	}
	fmt.Fprintf(os.Stderr, "kubevirt-admit: %d VirtualMachine(s) checked, %d refusal(s)\n", checked, refused)
	if refused > 0 {
		os.Exit(1)
	}
}
