// Command kubevirt-admit runs KubeVirt's own admission checks of VirtualMachines, the code that
// virt-api's validating webhook runs (pkg/virt-api/webhooks/validating-webhook/admitters), on
// the VirtualMachines of a JSON stream on stdin, with KubeVirt's default configuration. A field
// that KubeVirt's API does not have is refused too: its CRD's schema would drop it. It prints one
// line per refusal (the VM, the field and KubeVirt's message) and exits 1 when there is any.
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
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "kubevirt-admit: not JSON:", err)
			os.Exit(2)
		}
		var vm v1.VirtualMachine
		if err := json.Unmarshal(raw, &vm); err != nil {
			fmt.Fprintln(os.Stderr, "kubevirt-admit: not a VirtualMachine:", err)
			os.Exit(2)
		}
		checked++
		// A spec field that KubeVirt's API does not have would be dropped by its CRD's schema, so
		// it is a refusal too: it is what reading the spec into KubeVirt's types and writing it
		// back loses.
		for _, path := range dropped(raw, vm.Spec) {
			refused++
			fmt.Printf("%s/%s: %s: not a field of KubeVirt's API; its schema drops it\n",
				vm.Namespace, vm.Name, path)
		}
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

// dropped lists the paths of spec fields of raw, set to something, that spec no longer has once
// written back as JSON.
func dropped(raw json.RawMessage, spec v1.VirtualMachineSpec) []string {
	var given struct {
		Spec map[string]interface{} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &given); err != nil {
		return []string{"spec: " + err.Error()}
	}
	written, err := json.Marshal(spec)
	if err != nil {
		return []string{"spec: " + err.Error()}
	}
	var kept map[string]interface{}
	if err := json.Unmarshal(written, &kept); err != nil {
		return []string{"spec: " + err.Error()}
	}
	var paths []string
	missing("spec", given.Spec, kept, &paths)
	return paths
}

func missing(path string, given, kept interface{}, paths *[]string) {
	switch value := given.(type) {
	case map[string]interface{}:
		keptMap, _ := kept.(map[string]interface{})
		for key, child := range value {
			keptChild, present := keptMap[key]
			if !present {
				if isSet(child) {
					*paths = append(*paths, path+"."+key)
				}
				continue
			}
			missing(path+"."+key, child, keptChild, paths)
		}
	case []interface{}:
		keptList, _ := kept.([]interface{})
		for i, child := range value {
			if i < len(keptList) {
				missing(fmt.Sprintf("%s[%d]", path, i), child, keptList[i], paths)
			}
		}
	}
}

// isSet tells a value that means something from one a writer may leave out (false, 0, "", null).
func isSet(value interface{}) bool {
	switch v := value.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	case map[string]interface{}:
		return len(v) > 0
	case []interface{}:
		return len(v) > 0
	}
	return true
}
