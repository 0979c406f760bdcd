package dev.nimbus.kubevirt;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
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
    extends CustomResource<VirtualMachineInstanceSpec, VirtualMachineInstanceStatus>
    implements Namespaced {
  @Override
  protected VirtualMachineInstanceSpec initSpec() {
    return new VirtualMachineInstanceSpec();
  }

  @Override
  protected VirtualMachineInstanceStatus initStatus() {
    return null;
  }
}
