package dev.nimbus.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.testing.ControlPlaneBinaries;
import dev.nimbus.testing.LauncherPods;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import dev.nimbus.virtualserver.LauncherOverhead;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * KubeVirt's own control plane on the local cluster: real virt-controller turns a VM into a VMI and
 * a launcher pod (with KubeVirt's overhead on top of the guest's memory), the kube-scheduler places
 * the pod on a KVM node, KWOK runs it, and the virt-handler stand-in reports the VMI Running; real
 * virt-api serves {@code virtctl stop|start|restart} through its APIService.
 */
@ExtendWith(LocalCluster.class)
class KubeVirtControlPlaneIT {
  @Test
  void aVmRunsOnAKvmNodeAndVirtctlStopsStartsAndRestartsIt(
      KubernetesClient client, TestNamespace namespace) {
    var vms = resources(client, namespace, "VirtualMachine");
    var vmis = resources(client, namespace, "VirtualMachineInstance");
    vms.resource(vm("guest")).create();

    awaitPrintableStatus(vms, "guest", "Running");
    GenericKubernetesResource vmi = vmis.withName("guest").get();
    assertThat(vmi.<Object>get("status", "phase")).isEqualTo("Running");
    String node = vmi.get("status", "nodeName");
    assertThat(node).startsWith("kvm-");
    Pod launcher = launcher(client, namespace);
    assertThat(launcher.getSpec().getNodeName()).isEqualTo(node);
    Map<String, Quantity> compute =
        launcher.getSpec().getContainers().stream()
            .filter(c -> c.getName().equals("compute"))
            .findFirst()
            .orElseThrow()
            .getResources()
            .getRequests();
    assertThat(compute).containsKeys("cpu", "devices.kubevirt.io/kvm");
    assertThat(LauncherPods.requested(launcher))
        .as("the launcher asks the VM's requests and the overhead that admission counts")
        .isEqualTo(Amounts.of(2_000, 1L << 30, 0).plus(LauncherOverhead.of(2, 1L << 30)));
    List<Map<String, Object>> interfaces = vmi.get("status", "interfaces");
    assertThat(interfaces.get(0)).containsEntry("ipAddress", launcher.getStatus().getPodIP());

    ControlPlaneBinaries.virtctl(namespace.name(), "stop", "guest");
    awaitPrintableStatus(vms, "guest", "Stopped");
    vmis.withName("guest").waitUntilCondition(v -> v == null, 60, TimeUnit.SECONDS);
    assertThat(vms.withName("guest").get().<Object>get("spec", "runStrategy")).isEqualTo("Halted");

    ControlPlaneBinaries.virtctl(namespace.name(), "start", "guest");
    awaitPrintableStatus(vms, "guest", "Running");
    String firstUid = vmis.withName("guest").get().getMetadata().getUid();

    ControlPlaneBinaries.virtctl(namespace.name(), "restart", "guest");
    vmis.withName("guest")
        .waitUntilCondition(
            v ->
                v != null
                    && !v.getMetadata().getUid().equals(firstUid)
                    && "Running".equals(v.get("status", "phase")),
            90,
            TimeUnit.SECONDS);

    vms.withName("guest").delete();
    vms.withName("guest").waitUntilCondition(v -> v == null, 60, TimeUnit.SECONDS);
    client
        .pods()
        .inNamespace(namespace.name())
        .withLabel("kubevirt.io", "virt-launcher")
        .informOnCondition(List::isEmpty)
        .orTimeout(60, TimeUnit.SECONDS)
        .join();
  }

  @Test
  void launcherPodsLandOnlyOnKvmNodes(KubernetesClient client, TestNamespace namespace) {
    var vms = resources(client, namespace, "VirtualMachine");
    for (int i = 0; i < 6; i++) {
      vms.resource(vm("guest-" + i)).create();
    }
    for (int i = 0; i < 6; i++) {
      awaitPrintableStatus(vms, "guest-" + i, "Running");
    }
    assertThat(
            client
                .pods()
                .inNamespace(namespace.name())
                .withLabel("kubevirt.io", "virt-launcher")
                .list()
                .getItems())
        .hasSize(6)
        .allSatisfy(pod -> assertThat(pod.getSpec().getNodeName()).startsWith("kvm-"));
  }

  private static void awaitPrintableStatus(
      NonNamespaceOperation<
              GenericKubernetesResource,
              GenericKubernetesResourceList,
              Resource<GenericKubernetesResource>>
          vms,
      String name,
      String status) {
    vms.withName(name)
        .waitUntilCondition(
            vm -> vm != null && status.equals(vm.get("status", "printableStatus")),
            90,
            TimeUnit.SECONDS);
  }

  private static NonNamespaceOperation<
          GenericKubernetesResource,
          GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      resources(KubernetesClient client, TestNamespace namespace, String kind) {
    return client.genericKubernetesResources("kubevirt.io/v1", kind).inNamespace(namespace.name());
  }

  private static Pod launcher(KubernetesClient client, TestNamespace namespace) {
    return client
        .pods()
        .inNamespace(namespace.name())
        .withLabel("kubevirt.io", "virt-launcher")
        .list()
        .getItems()
        .get(0);
  }

  /** A running VM of 2 vCPU and 1Gi from a container disk. */
  private static GenericKubernetesResource vm(String name) {
    var vm = new GenericKubernetesResource();
    vm.setApiVersion("kubevirt.io/v1");
    vm.setKind("VirtualMachine");
    vm.setMetadata(new ObjectMetaBuilder().withName(name).build());
    vm.setAdditionalProperty(
        "spec",
        new HashMap<>(
            Map.of(
                "runStrategy",
                "Always",
                "template",
                Map.of(
                    "metadata",
                    Map.of("labels", Map.of("app", name)),
                    "spec",
                    Map.of(
                        "domain",
                        Map.of(
                            "cpu",
                            Map.of("cores", 2),
                            "resources",
                            Map.of("requests", Map.of("cpu", "2", "memory", "1Gi")),
                            "devices",
                            Map.of()),
                        "volumes",
                        List.of(
                            Map.of(
                                "name",
                                "root",
                                "containerDisk",
                                Map.of("image", "quay.io/containerdisks/fedora:41"))))))));
    return vm;
  }
}
