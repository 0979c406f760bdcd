package dev.nimbus.virtualserver;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.api.v1alpha1.VirtualServerStatus;
import dev.nimbus.kubevirt.KubeVirtCondition;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.kubevirt.VirtualMachineInstanceStatus;
import dev.nimbus.kubevirt.VirtualMachineStatus;
import dev.nimbus.ledger.LedgerEntry;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** A VirtualServer's status from its ledger entry, VMs and VMIs, computed without a cluster. */
class ServerStatusesTest {
  @Test
  void instancesFollowTheirVmsAndTheServerIsReadyWhenAllRun() {
    VirtualServer server = server(true);
    var observed =
        twoInstances(
            Map.of(0, vm("Always", true), 1, vm("Always", false)),
            Map.of(0, vmi("Running", "kvm-1", "10.0.0.7")));

    VirtualServerStatus status = ServerStatuses.of(server, observed);

    assertThat(status.instances())
        .extracting(i -> i.vmName() + " " + i.state() + " " + i.node() + " " + i.privateIp())
        .containsExactly("web-0 running kvm-1 10.0.0.7", "web-1 pending kvm-1 null");
    assertThat(status.instances().get(0).instanceId()).matches("i-[0-9a-f]{17}");
    assertThat(status.admittedCount()).isEqualTo(2);
    assertThat(status.readyCount()).isEqualTo(1);
    assertThat(conditions(status))
        .contains("Ready=False/InstancesPending", "Admitted=True/Admitted");

    var allRunning =
        twoInstances(
            Map.of(0, vm("Always", true), 1, vm("Always", true)),
            Map.of(0, vmi("Running", "kvm-1", "10.0.0.7"), 1, vmi("Running", "kvm-0", "10.0.0.8")));
    assertThat(conditions(ServerStatuses.of(server, allRunning)))
        .contains("Ready=True/InstancesRunning");
  }

  /**
   * An instance runs once its VMI runs and is Ready. The VM's {@code status.ready} is
   * virt-controller's copy of that condition, written later by its VM controller (three workers by
   * default): with 2,000 servers starting, it trailed the VMIs by three to four minutes.
   */
  @Test
  void anInstanceFollowsItsVmiReadinessNotTheVmsLaterCopyOfIt() {
    VirtualServer server = server(true);
    var observed =
        twoInstances(
            Map.of(0, vm("Always", false), 1, vm("Always", true)),
            Map.of(
                0, vmi("Running", "kvm-1", "10.0.0.7", true),
                1, vmi("Running", "kvm-0", "10.0.0.8", false)));

    VirtualServerStatus status = ServerStatuses.of(server, observed);

    assertThat(status.instances())
        .extracting(i -> i.vmName() + " " + i.state())
        .containsExactly("web-0 running", "web-1 pending");
    assertThat(status.readyCount()).isEqualTo(1);
  }

  @Test
  void withoutKubeVirtTheServerSaysSoAndIsNotReady() {
    VirtualServerStatus status =
        ServerStatuses.of(
            server(true),
            new ServerStatuses.Observed(
                "kvm", null, false, entry(1), Map.of(), Map.of(), null, null));

    assertThat(conditions(status))
        .contains(
            "KubeVirtUnavailable=True/KubeVirtUnavailable", "Ready=False/KubeVirtUnavailable");
    assertThat(
            status.conditions().stream()
                .filter(c -> c.getType().equals("KubeVirtUnavailable"))
                .findFirst()
                .orElseThrow()
                .getMessage())
        .contains("install KubeVirt");
  }

  @Test
  void aStoppedServerKeepsItsInstancesHaltedAndHoldsNoCapacity() {
    VirtualServerStatus status =
        ServerStatuses.of(
            server(false),
            new ServerStatuses.Observed(
                "kvm", null, true, null, Map.of(0, vm("Halted", false)), Map.of(), null, null));

    assertThat(status.instances()).extracting(i -> i.state()).containsExactly("stopped");
    assertThat(status.admittedCount()).isZero();
    assertThat(conditions(status)).contains("Admitted=False/Stopped", "Ready=False/Stopped");
  }

  @Test
  void anUnschedulableVmIsTold() {
    VirtualMachine vm = vm("Always", false);
    vm.getStatus().printableStatus = "ErrorUnschedulable";
    VirtualServerStatus status =
        ServerStatuses.of(
            server(true),
            new ServerStatuses.Observed(
                "kvm", null, true, entry(1), Map.of(0, vm), Map.of(), null, null));

    assertThat(conditions(status)).contains("Ready=False/Unschedulable");
  }

  private static List<String> conditions(VirtualServerStatus status) {
    return status.conditions().stream()
        .map(c -> c.getType() + "=" + c.getStatus() + "/" + c.getReason())
        .toList();
  }

  private static VirtualServer server(boolean running) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder()
            .withName("web")
            .withNamespace("team")
            .withUid("uid-1")
            .withGeneration(1L)
            .build());
    server.setSpec(
        new VirtualServerSpec("img", "t3.micro", 1, 2, null, null, null, "kvm", running, false));
    return server;
  }

  private static LedgerEntry entry(int instances) {
    return new LedgerEntry(
        "uid-1",
        "VirtualServer",
        "team",
        "web",
        "2026-11-27T00:00:00Z",
        2,
        IntStream.range(0, instances)
            .mapToObj(i -> new LedgerEntry.Placement("kvm-" + i, 2000, 1L << 30, 0, null))
            .toList(),
        1L);
  }

  private static VirtualMachine vm(String runStrategy, boolean ready) {
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(new ObjectMetaBuilder().withName("vm").build());
    vm.getSpec().runStrategy = runStrategy;
    VirtualMachineStatus status = new VirtualMachineStatus();
    status.ready = ready;
    status.printableStatus = ready ? "Running" : "Starting";
    vm.setStatus(status);
    return vm;
  }

  /** A VMI whose Ready condition is True when it runs, as virt-controller sets it then. */
  private static VirtualMachineInstance vmi(String phase, String node, String ip) {
    return vmi(phase, node, ip, "Running".equals(phase));
  }

  private static VirtualMachineInstance vmi(String phase, String node, String ip, boolean ready) {
    VirtualMachineInstance vmi = new VirtualMachineInstance();
    vmi.setMetadata(new ObjectMetaBuilder().withName("vmi").build());
    VirtualMachineInstanceStatus status = new VirtualMachineInstanceStatus();
    status.phase = phase;
    status.nodeName = node;
    VirtualMachineInstanceStatus.InterfaceStatus nic =
        new VirtualMachineInstanceStatus.InterfaceStatus();
    nic.ipAddress = ip;
    status.interfaces = List.of(nic);
    KubeVirtCondition readiness = new KubeVirtCondition();
    readiness.type = "Ready";
    readiness.status = ready ? "True" : "False";
    status.conditions = List.of(readiness);
    vmi.setStatus(status);
    return vmi;
  }

  /** What was observed of a server admitted with two instances in pool kvm, with KubeVirt. */
  private static ServerStatuses.Observed twoInstances(
      Map<Integer, VirtualMachine> vms, Map<Integer, VirtualMachineInstance> vmis) {
    return new ServerStatuses.Observed("kvm", null, true, entry(2), vms, vmis, null, null);
  }
}
