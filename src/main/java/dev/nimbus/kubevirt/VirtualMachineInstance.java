package dev.nimbus.kubevirt;

import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

/** A KubeVirt VirtualMachineInstance: one running VM, with its node and addresses. */
@Group(VirtualMachine.GROUP)
@Version(VirtualMachine.VERSION)
@Kind("VirtualMachineInstance")
@Plural("virtualmachineinstances")
public class VirtualMachineInstance
    extends KubeVirtResource<VirtualMachineInstanceSpec, VirtualMachineInstanceStatus> {
  public VirtualMachineInstance() {
    super(new VirtualMachineInstanceSpec());
  }
}
