package dev.nimbus.kubevirt;

import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

/** A KubeVirt VirtualMachine: a VM definition that KubeVirt starts and stops as a VMI. */
@Group(VirtualMachine.GROUP)
@Version(VirtualMachine.VERSION)
@Kind("VirtualMachine")
@Plural("virtualmachines")
public class VirtualMachine extends KubeVirtResource<VirtualMachineSpec, VirtualMachineStatus> {
  public static final String GROUP = "kubevirt.io";
  public static final String VERSION = "v1";

  /** The run strategies of {@code spec.runStrategy} that Nimbus uses. */
  public static final String RUN_ALWAYS = "Always";

  public static final String RUN_HALTED = "Halted";

  public VirtualMachine() {
    super(new VirtualMachineSpec());
  }
}
