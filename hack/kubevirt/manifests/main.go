// Command kubevirt-manifests prints, as one YAML stream, what virt-operator would install for
// the local control plane: KubeVirt's namespace, every KubeVirt CRD, the ServiceAccounts, roles
// and bindings of virt-api, virt-controller and virt-handler, virt-api's mutating and validating
// webhook configurations and its APIServices, built by the same functions of KubeVirt's
// virt-operator (pkg/virt-operator/resource/generate/components and .../rbac) at the version this
// is compiled against.
//
// With -virt-api, what virt-operator points at virt-api's Service points at a virt-api process
// instead: the webhooks call its URL, and the Service `virt-api` that the APIServices name becomes
// an ExternalName of its host, which kube-apiserver dials with the Service's port. -ca-bundle is the
// CA that signed virt-api's serving certificate, for both.
//
// hack/build-control-plane.sh compiles it inside the KubeVirt wrapper module; hack/cluster.sh runs it.
//
// Usage: kubevirt-manifests [-namespace kubevirt] [-virt-api localhost:18443 -ca-bundle ca.crt]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/rbac"
)

func main() {
	namespace := flag.String("namespace", "kubevirt", "the namespace virt-api is installed in")
	virtAPI := flag.String("virt-api", "", "host:port of a virt-api process to point webhooks and APIServices at")
	caBundle := flag.String("ca-bundle", "", "PEM file of the CA that signed virt-api's serving certificate")
	flag.Parse()
	var ca []byte
	if *virtAPI != "" {
		var err error
		if ca, err = os.ReadFile(*caBundle); err != nil {
			fail(fmt.Errorf("-virt-api needs -ca-bundle: %w", err))
		}
	}

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
	objects := []interface{}{&corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: *namespace},
	}}
	for _, build := range crds {
		crd, err := build()
		if err != nil {
			fail(err)
		}
		objects = append(objects, crd)
	}
	// The roles virt-operator grants its components; the local control plane gives each component
	// a client certificate in its ServiceAccount's name, so these roles, not more, bind it.
	for _, object := range rbac.GetAllCluster() {
		objects = append(objects, object)
	}
	for _, object := range rbac.GetAllApiServer(*namespace) {
		objects = append(objects, object)
	}
	for _, object := range rbac.GetAllController(*namespace) {
		objects = append(objects, object)
	}
	for _, object := range rbac.GetAllHandler(*namespace) {
		objects = append(objects, object)
	}
	mutating := components.NewVirtAPIMutatingWebhookConfiguration(*namespace)
	validating := components.NewVirtAPIValidatingWebhookConfiguration(*namespace)
	apiServices := components.NewVirtAPIAPIServices(*namespace)
	if *virtAPI != "" {
		host, port, err := net.SplitHostPort(*virtAPI)
		if err != nil {
			fail(fmt.Errorf("-virt-api %q: %w", *virtAPI, err))
		}
		number, err := strconv.Atoi(port)
		if err != nil {
			fail(fmt.Errorf("-virt-api %q: port: %w", *virtAPI, err))
		}
		for i := range mutating.Webhooks {
			mutating.Webhooks[i].ClientConfig = byURL(*virtAPI, mutating.Webhooks[i].ClientConfig, ca)
		}
		for i := range validating.Webhooks {
			validating.Webhooks[i].ClientConfig = byURL(*virtAPI, validating.Webhooks[i].ClientConfig, ca)
		}
		for _, service := range apiServices {
			service.Spec.CABundle = ca
			service.Spec.Service.Port = ptr.To(int32(number))
		}
		objects = append(objects, &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: components.VirtApiServiceName, Namespace: *namespace},
			Spec: corev1.ServiceSpec{
				Type:         corev1.ServiceTypeExternalName,
				ExternalName: host,
				Ports:        []corev1.ServicePort{{Name: "https", Port: int32(number)}},
			},
		})
	}
	objects = append(objects, mutating, validating)
	for _, service := range apiServices {
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

// byURL points a webhook that calls virt-api's Service at the same path of the virt-api at hostPort.
func byURL(hostPort string, config admissionv1.WebhookClientConfig, ca []byte) admissionv1.WebhookClientConfig {
	path := ""
	if config.Service != nil && config.Service.Path != nil {
		path = *config.Service.Path
	}
	return admissionv1.WebhookClientConfig{URL: ptr.To("https://" + hostPort + path), CABundle: ca}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kubevirt-manifests:", err)
	os.Exit(1)
}
