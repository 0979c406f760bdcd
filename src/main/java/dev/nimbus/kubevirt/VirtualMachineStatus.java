package dev.nimbus.kubevirt;

import java.util.List;

/** {@code VirtualMachine.status}: what KubeVirt reports about the VM. */
public class VirtualMachineStatus extends KubeVirtObject {
  /** Running, Stopped, Starting, Stopping, ErrorUnschedulable, ... as {@code kubectl get vm}. */
  public String printableStatus;

  public Boolean ready;
  public Boolean created;
  public List<KubeVirtCondition> conditions;
}
