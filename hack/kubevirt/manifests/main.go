// Command kubevirt-manifests prints, as one YAML stream, what virt-operator would install for
// the local control plane: every KubeVirt CRD, virt-api's mutating and validating webhook
// configurations and its APIServices, built by the same functions of KubeVirt's virt-operator
// (pkg/virt-operator/resource/generate/components) at the version this is compiled against.
//
// hack/build-control-plane.sh compiles it inside the KubeVirt wrapper module; hack/cluster.sh
// rewrites the webhooks' and APIServices' service references to the local virt-api.
//
// Usage: kubevirt-manifests [-namespace kubevirt]
package main

import (
	"flag"
	"fmt"
	"os"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
)

func main() {
	namespace := flag.String("namespace", "kubevirt", "the namespace virt-api is installed in")
	flag.Parse()

	crds := []func() (*extv1.CustomResourceDefinition, error){
		components.NewVirtualMachineInstanceCrd,
		components.NewVirtualMachineCrd,
		components.NewPresetCrd,
		components.NewReplicaSetCrd,
		components.NewVirtualMachineInstanceMigrationCrd,
		components.NewKubeVirtCrd,
		components.NewVirtualMachinePoolCrd,
		components.NewVirtualMachineSnapshotCrd,
		components.NewVirtualMachineSnapshotContentCrd,
		components.NewVirtualMachineRestoreCrd,
		components.NewVirtualMachineExportCrd,
		components.NewVirtualMachineInstancetypeCrd,
		components.NewVirtualMachineClusterInstancetypeCrd,
		components.NewVirtualMachinePreferenceCrd,
		components.NewVirtualMachineClusterPreferenceCrd,
		components.NewMigrationPolicyCrd,
		components.NewVirtualMachineCloneCrd,
	}
	var objects []interface{}
	for _, build := range crds {
		crd, err := build()
		if err != nil {
			fail(err)
		}
		objects = append(objects, crd)
	}
	objects = append(objects,
		components.NewVirtAPIMutatingWebhookConfiguration(*namespace),
		components.NewVirtAPIValidatingWebhookConfiguration(*namespace))
	for _, service := range components.NewVirtAPIAPIServices(*namespace) {
		objects = append(objects, service)
	}
	for _, object := range objects {
		out, err := yaml.Marshal(object)
		if err != nil {
			fail(err)
		}
		fmt.Printf("---\n%s", out)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kubevirt-manifests:", err)
	os.Exit(1)
}
