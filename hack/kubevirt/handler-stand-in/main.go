// Command kubevirt-handler-stand-in reports what KubeVirt's virt-handler would report of the
// VirtualMachineInstances on the local control plane's nodes, which are KWOK's and have no KVM,
// libvirt or virt-launcher to run a guest.
//
// Real virt-controller does the rest: it turns VMs into VMIs, creates their launcher pods (the
// kube-scheduler places them, KWOK "runs" them), marks a VMI Scheduled with its node, follows a
// VMI's readiness from its pod, stops a VM by deleting the VMI and its pod, and finalizes the VMI
// when the pod is gone. The one step no process here takes is the node's: once the launcher pod
// runs on the VMI's node, virt-handler sees the domain start and moves the VMI to Running with
// the guest's interfaces. That step is this command's, and only that.
//
// It runs as virt-handler's ServiceAccount, so virt-api's admission judges its updates as
// virt-handler's, and writes only as virt-handler may: update, from a watched cache. It also
// lists launcher pods, which virt-handler learns of from its node instead (hack/cluster.sh grants
// that read).
//
// Usage: kubevirt-handler-stand-in -kubeconfig FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	k8sv1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"

	virtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/kubecli"

	"kubevirt.io/kubevirt/pkg/network/vmispec"
	virtconfig "kubevirt.io/kubevirt/pkg/virt-config"
)

// One process stands in for the virt-handler of every node, so it takes at least one
// virt-handler's budget: KubeVirt's default rate for virt-handler's client (not client-go's own
// default of 5 requests a second for all nodes at once) and enough workers to spend it while the
// API server answers in tens of milliseconds.
const workers = 16

type standIn struct {
	client   kubecli.KubevirtClient
	vmis     cache.SharedIndexInformer
	pods     cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	podsByVM cache.Indexer
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of virt-handler's identity")
	flag.Parse()
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	config.QPS = virtconfig.DefaultVirtHandlerQPS
	config.Burst = virtconfig.DefaultVirtHandlerBurst
	client, err := kubecli.GetKubevirtClientFromRESTConfig(config)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	s := &standIn{
		client: client,
		queue: workqueue.NewTypedRateLimitingQueue(
			workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	s.vmis = cache.NewSharedIndexInformer(
		cache.NewListWatchFromClient(client.RestClient(), "virtualmachineinstances", k8sv1.NamespaceAll, fields.Everything()),
		&virtv1.VirtualMachineInstance{}, 0, cache.Indexers{})
	launchers := labels.SelectorFromSet(labels.Set{virtv1.AppLabel: "virt-launcher"}).String()
	s.pods = cache.NewSharedIndexInformer(
		&cache.ListWatch{
			ListFunc: func(options metav1.ListOptions) (runtime.Object, error) {
				options.LabelSelector = launchers
				return client.CoreV1().Pods(k8sv1.NamespaceAll).List(ctx, options)
			},
			WatchFunc: func(options metav1.ListOptions) (watch.Interface, error) {
				options.LabelSelector = launchers
				return client.CoreV1().Pods(k8sv1.NamespaceAll).Watch(ctx, options)
			},
		},
		&k8sv1.Pod{}, 0, cache.Indexers{vmiIndex: podsOfVMI})
	s.podsByVM = s.pods.GetIndexer()
	enqueue := cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueue,
		UpdateFunc: func(_, after interface{}) { s.enqueue(after) },
		DeleteFunc: s.enqueue,
	}
	if _, err := s.vmis.AddEventHandler(enqueue); err != nil {
		fail(err)
	}
	if _, err := s.pods.AddEventHandler(enqueue); err != nil {
		fail(err)
	}
	go s.vmis.Run(ctx.Done())
	go s.pods.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.vmis.HasSynced, s.pods.HasSynced) {
		fail(fmt.Errorf("caches never synced"))
	}
	fmt.Fprintln(os.Stderr, "kubevirt-handler-stand-in: watching VMIs and launcher pods")
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, s.work, time.Second)
	}
	<-ctx.Done()
	s.queue.ShutDown()
}

const vmiIndex = "vmi"

// podsOfVMI indexes a launcher pod by the namespace/name of the VMI that owns it.
func podsOfVMI(object interface{}) ([]string, error) {
	pod := object.(*k8sv1.Pod)
	owner := metav1.GetControllerOf(pod)
	if owner == nil || owner.Kind != "VirtualMachineInstance" {
		return nil, nil
	}
	return []string{pod.Namespace + "/" + owner.Name}, nil
}

func (s *standIn) enqueue(object interface{}) {
	if tombstone, ok := object.(cache.DeletedFinalStateUnknown); ok {
		object = tombstone.Obj
	}
	switch o := object.(type) {
	case *virtv1.VirtualMachineInstance:
		s.queue.Add(o.Namespace + "/" + o.Name)
	case *k8sv1.Pod:
		keys, _ := podsOfVMI(o)
		for _, key := range keys {
			s.queue.Add(key)
		}
	}
}

func (s *standIn) work(ctx context.Context) {
	for {
		key, shutdown := s.queue.Get()
		if shutdown {
			return
		}
		if err := s.sync(ctx, key); err != nil {
			if !errors.IsConflict(err) && !errors.IsNotFound(err) {
				fmt.Fprintf(os.Stderr, "kubevirt-handler-stand-in: %s: %v\n", key, err)
			}
			s.queue.AddRateLimited(key)
		} else {
			s.queue.Forget(key)
		}
		s.queue.Done(key)
	}
}

// sync moves a Scheduled VMI to Running once its launcher pod runs on the VMI's node, reporting
// the pod's addresses as the guest's default interface, as virt-handler does for a pod network.
func (s *standIn) sync(ctx context.Context, key string) error {
	object, exists, err := s.vmis.GetStore().GetByKey(key)
	if err != nil || !exists {
		return err
	}
	vmi := object.(*virtv1.VirtualMachineInstance)
	if vmi.DeletionTimestamp != nil || vmi.Status.Phase != virtv1.Scheduled || vmi.Status.NodeName == "" {
		return nil
	}
	pod := s.runningLauncher(key, vmi)
	if pod == nil {
		return nil
	}
	running := vmi.DeepCopy()
	running.Status.Phase = virtv1.Running
	var addresses []string
	for _, ip := range pod.Status.PodIPs {
		addresses = append(addresses, ip.IP)
	}
	running.Status.Interfaces = []virtv1.VirtualMachineInstanceNetworkInterface{{
		Name:             "default",
		IP:               pod.Status.PodIP,
		IPs:              addresses,
		InfoSource:       vmispec.InfoSourceDomain,
		QueueCount:       1,
		PodInterfaceName: "eth0",
	}}
	_, err = s.client.VirtualMachineInstance(vmi.Namespace).Update(ctx, running, metav1.UpdateOptions{})
	return err
}

// runningLauncher is the VMI's launcher pod if it runs, with an address, on the VMI's node.
func (s *standIn) runningLauncher(key string, vmi *virtv1.VirtualMachineInstance) *k8sv1.Pod {
	pods, _ := s.podsByVM.ByIndex(vmiIndex, key)
	for _, object := range pods {
		pod := object.(*k8sv1.Pod)
		if metav1.GetControllerOf(pod).UID == vmi.UID && pod.DeletionTimestamp == nil &&
			pod.Status.Phase == k8sv1.PodRunning && pod.Status.PodIP != "" &&
			pod.Spec.NodeName == vmi.Status.NodeName {
			return pod
		}
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kubevirt-handler-stand-in:", err)
	os.Exit(1)
}
