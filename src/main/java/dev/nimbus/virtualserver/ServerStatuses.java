package dev.nimbus.virtualserver;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerStatus;
import dev.nimbus.api.v1alpha1.VirtualServerStatus.InstanceStatus;
import dev.nimbus.conditions.Conditions;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.SecurityGroupPolicy;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Computes a VirtualServer's status from what was observed; nothing here talks to the cluster. An
 * instance's EC2 state follows its VM and VMI: pending until the VMI runs and is ready, running,
 * stopping and stopped when halted, shutting-down while its VM is deleted.
 */
public final class ServerStatuses {
  static final String PENDING = "pending";
  static final String RUNNING = "running";
  static final String STOPPING = "stopping";
  static final String STOPPED = "stopped";
  static final String SHUTTING_DOWN = "shutting-down";

  /** KubeVirt's printableStatus of a VM that the scheduler cannot place. */
  static final String UNSCHEDULABLE = "ErrorUnschedulable";

  private ServerStatuses() {}

  /** What the reconciler observed, by instance index where it is per instance. */
  public record Observed(
      String pool,
      String invalidReference,
      boolean kubeVirtAvailable,
      LedgerEntry entry,
      Map<Integer, VirtualMachine> vms,
      Map<Integer, VirtualMachineInstance> vmis,
      // What became of the security-group policy; null when this reconcile did not apply it.
      SecurityGroupPolicy.Outcome securityGroups,
      // The name of a Secret held by another owner, "" once Nimbus wrote its Secrets, null when
      // this reconcile wrote none.
      String secretNameTaken) {}

  public static VirtualServerStatus of(VirtualServer server, Observed observed) {
    var spec = server.getSpec();
    long generation = Objects.requireNonNullElse(server.getMetadata().getGeneration(), 1L);
    boolean running = !Boolean.FALSE.equals(spec.running());
    boolean deleting = server.getMetadata().getDeletionTimestamp() != null;
    int desired = Objects.requireNonNullElse(spec.maxCount(), 1);
    LedgerEntry entry = observed.entry();
    int admitted = entry == null ? 0 : entry.count();

    SortedSet<Integer> indices = new TreeSet<>(observed.vms().keySet());
    for (int index = 0; index < admitted; index++) {
      indices.add(index);
    }
    List<InstanceStatus> instances =
        indices.stream().map(index -> instance(server, index, observed, deleting)).toList();
    int ready = (int) instances.stream().filter(i -> RUNNING.equals(i.state())).count();
    boolean unschedulable =
        observed.vms().values().stream()
            .anyMatch(
                vm ->
                    vm.getStatus() != null && UNSCHEDULABLE.equals(vm.getStatus().printableStatus));

    var previous = server.getStatus() == null ? null : server.getStatus().conditions();
    List<Condition> conditions =
        Conditions.set(
            previous,
            "KubeVirtUnavailable",
            !observed.kubeVirtAvailable(),
            observed.kubeVirtAvailable() ? "KubeVirtFound" : "KubeVirtUnavailable",
            observed.kubeVirtAvailable()
                ? "the cluster serves kubevirt.io/v1 VirtualMachines"
                : KUBEVIRT_MISSING,
            generation);
    String poolText = observed.pool() == null ? "its pool" : "pool " + observed.pool();
    if (entry != null) {
      conditions =
          Conditions.set(
              conditions,
              Conditions.ADMITTED,
              true,
              "Admitted",
              admitted + " of " + desired + " instance(s) admitted in " + poolText,
              generation);
    } else if (!running) {
      conditions =
          Conditions.set(
              conditions,
              Conditions.ADMITTED,
              false,
              "Stopped",
              "stopped: the instances hold no capacity; setting spec.running to true goes through"
                  + " admission again",
              generation);
    } else {
      conditions =
          Conditions.set(
              conditions,
              Conditions.ADMITTED,
              false,
              Conditions.NOT_ADMITTED,
              observed.invalidReference() != null
                  ? observed.invalidReference()
                  : poolText
                      + " holds no reservation for this VirtualServer (it was stored without"
                      + " one, or lost it) and has no room for it now: it is admitted as soon as"
                      + " the pool has room, looked at every 30 s",
              generation);
    }
    if (observed.secretNameTaken() != null) {
      boolean written = observed.secretNameTaken().isEmpty();
      conditions =
          Conditions.set(
              conditions,
              SECRETS_WRITTEN,
              written,
              written ? "Written" : "SecretNameTaken",
              written
                  ? "the user data and key Secrets hold what the VMs read"
                  : "Secret "
                      + observed.secretNameTaken()
                      + " exists and was not created by Nimbus for this server; rename or delete"
                      + " it",
              generation);
    }
    boolean secretTaken =
        conditions.stream()
            .anyMatch(c -> c.getType().equals(SECRETS_WRITTEN) && c.getStatus().equals("False"));
    String reason;
    String message;
    if (secretTaken) {
      reason = "SecretNameTaken";
      message =
          conditions.stream()
              .filter(c -> c.getType().equals(SECRETS_WRITTEN))
              .findFirst()
              .orElseThrow()
              .getMessage();
    } else if (observed.invalidReference() != null) {
      reason = "InvalidReference";
      message = observed.invalidReference();
    } else if (!observed.kubeVirtAvailable()) {
      reason = "KubeVirtUnavailable";
      message = KUBEVIRT_MISSING;
    } else if (!running) {
      reason = "Stopped";
      message = "stopped (spec.running is false)";
    } else if (entry == null) {
      reason = "NotAdmitted";
      message = "no instance admitted";
    } else if (ready == admitted && instances.size() == admitted) {
      reason = "InstancesRunning";
      message = ready + " of " + admitted + " instance(s) running";
    } else if (unschedulable) {
      reason = "Unschedulable";
      message =
          "the scheduler cannot place an instance on the node its pool reserved; see kubectl"
              + " describe vm";
    } else {
      reason = "InstancesPending";
      message = ready + " of " + admitted + " instance(s) running";
    }
    boolean isReady = reason.equals("InstancesRunning");
    conditions = Conditions.set(conditions, "Ready", isReady, reason, message, generation);
    if (observed.securityGroups() != null) {
      conditions =
          SecurityGroupPolicy.condition(
              conditions,
              observed.securityGroups(),
              Names.serverNetworkPolicy(server.getMetadata().getName()),
              generation);
    }
    return new VirtualServerStatus(
        generation,
        conditions,
        observed.pool(),
        desired,
        admitted,
        ready,
        instances.isEmpty() ? null : instances);
  }

  static final String SECRETS_WRITTEN = "SecretsWritten";

  static final String KUBEVIRT_MISSING =
      "the cluster does not serve kubevirt.io/v1 VirtualMachines: install KubeVirt; Nimbus"
          + " proceeds by itself once it is there";

  private static InstanceStatus instance(
      VirtualServer server, int index, Observed observed, boolean deleting) {
    VirtualMachine vm = observed.vms().get(index);
    VirtualMachineInstance vmi = observed.vmis().get(index);
    LedgerEntry entry = observed.entry();
    String node =
        vmi != null && vmi.getStatus() != null && vmi.getStatus().nodeName != null
            ? vmi.getStatus().nodeName
            : entry != null && index < entry.count() ? entry.placements().get(index).node() : null;
    String ip = null;
    if (vmi != null && vmi.getStatus() != null && vmi.getStatus().interfaces != null) {
      ip =
          vmi.getStatus().interfaces.stream()
              .map(i -> i.ipAddress)
              .filter(Objects::nonNull)
              .findFirst()
              .orElse(null);
    }
    return new InstanceStatus(
        Names.instanceId(server.getMetadata().getUid(), index),
        Names.serverVm(server.getMetadata().getName(), index),
        node,
        ip,
        state(vm, vmi, deleting));
  }

  static String state(VirtualMachine vm, VirtualMachineInstance vmi, boolean deleting) {
    if (deleting || (vm != null && vm.getMetadata().getDeletionTimestamp() != null)) {
      return SHUTTING_DOWN;
    }
    if (vm == null) {
      return PENDING;
    }
    if (VirtualMachine.RUN_HALTED.equals(vm.getSpec().runStrategy)) {
      return vmi == null ? STOPPED : STOPPING;
    }
    return ready(vmi) ? RUNNING : PENDING;
  }

  /**
   * Whether the VMI runs and its Ready condition is True. The VM's {@code status.ready} says the
   * same, but virt-controller's VM controller copies it there later (three workers by default: with
   * 2,000 servers starting, minutes later), so it is read at its source.
   */
  private static boolean ready(VirtualMachineInstance vmi) {
    if (vmi == null
        || vmi.getMetadata().getDeletionTimestamp() != null
        || vmi.getStatus() == null
        || !"Running".equals(vmi.getStatus().phase)
        || vmi.getStatus().conditions == null) {
      return false;
    }
    return vmi.getStatus().conditions.stream()
        .anyMatch(c -> "Ready".equals(c.type) && "True".equals(c.status));
  }
}
