package dev.nimbus.kubevirt.simulator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The KubeVirt stand-in: a VM runs as a VMI on a KVM node, halts, and deletes cleanly. */
@ExtendWith(LocalCluster.class)
class KubeVirtSimulatorIT {
  @Test
  void vmRunsOnAKvmNodeThenHaltsAndDeletes(KubernetesClient client, TestNamespace namespace) {
    var vms = resources(client, namespace, "VirtualMachine");
    var vmis = resources(client, namespace, "VirtualMachineInstance");
    vms.resource(vm("guest", "Always")).create();

    GenericKubernetesResource running =
        vms.withName("guest")
            .waitUntilCondition(
                vm -> vm != null && "Running".equals(vm.get("status", "printableStatus")),
                60,
                TimeUnit.SECONDS);
    assertThat(running.<Object>get("status", "ready")).isEqualTo(true);
    GenericKubernetesResource vmi = vmis.withName("guest").get();
    assertThat(vmi.<Object>get("status", "phase")).isEqualTo("Running");
    String node = vmi.get("status", "nodeName");
    assertThat(node).startsWith("kvm-");
    assertThat(client.nodes().withName(node).get().getMetadata().getLabels())
        .containsEntry("kubevirt.io/schedulable", "true");
    Pod launcher = launcher(client, namespace);
    assertThat(launcher.getSpec().getNodeName()).isEqualTo(node);
    assertThat(launcher.getSpec().getContainers().get(0).getResources().getRequests())
        .containsKeys("cpu", "memory", "devices.kubevirt.io/kvm");
    List<Map<String, Object>> interfaces = vmi.get("status", "interfaces");
    assertThat(interfaces.get(0)).containsEntry("ipAddress", launcher.getStatus().getPodIP());

    vms.withName("guest").edit(vm -> withRunStrategy(vm, "Halted"));
    vms.withName("guest")
        .waitUntilCondition(
            vm -> "Stopped".equals(vm.get("status", "printableStatus")), 60, TimeUnit.SECONDS);
    vmis.withName("guest").waitUntilCondition(v -> v == null, 60, TimeUnit.SECONDS);

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
  void vmNeverLandsOnAPlainNode(KubernetesClient client, TestNamespace namespace) {
    var vms = resources(client, namespace, "VirtualMachine");
    for (int i = 0; i < 6; i++) {
      vms.resource(vm("guest-" + i, "Always")).create();
    }
    for (int i = 0; i < 6; i++) {
      vms.withName("guest-" + i)
          .waitUntilCondition(
              vm -> vm != null && "Running".equals(vm.get("status", "printableStatus")),
              60,
              TimeUnit.SECONDS);
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

  private static GenericKubernetesResource withRunStrategy(
      GenericKubernetesResource vm, String strategy) {
    Map<String, Object> spec = vm.get("spec");
    spec.put("runStrategy", strategy);
    return vm;
  }

  /** A VM as Nimbus will write it: 2 vCPU, 1Gi, only on nodes that expose KVM. */
  private static GenericKubernetesResource vm(String name, String runStrategy) {
    var vm = new GenericKubernetesResource();
    vm.setApiVersion("kubevirt.io/v1");
    vm.setKind("VirtualMachine");
    vm.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).build());
    vm.setAdditionalProperty(
        "spec",
        new java.util.HashMap<>(
            Map.of(
                "runStrategy",
                runStrategy,
                "template",
                Map.of(
                    "metadata",
                    Map.of("labels", Map.of("app", name)),
                    "spec",
                    Map.of(
                        "nodeSelector",
                        Map.of("kubevirt.io/schedulable", "true"),
                        "domain",
                        Map.of(
                            "cpu",
                            Map.of("cores", 2),
                            "resources",
                            Map.of("requests", Map.of("cpu", "2", "memory", "1Gi")),
                            "devices",
                            Map.of())),
                    "volumes",
                    List.of()))));
    return vm;
  }
}
