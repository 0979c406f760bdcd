package dev.nimbus.kubevirt;

import io.fabric8.kubernetes.api.model.ObjectMeta;

/** {@code VirtualMachine.spec}. */
public class VirtualMachineSpec extends KubeVirtObject {
  /** Always, RerunOnFailure, Manual, Halted or Once. */
  public String runStrategy;

  /** The older switch that runStrategy replaces; Nimbus never writes it. */
  public Boolean running;

  /** The VMI that the VM starts. */
  public Template template;

  /** {@code spec.template}: the metadata and spec of the VMI. */
  public static class Template extends KubeVirtObject {
    public ObjectMeta metadata;
    public VirtualMachineInstanceSpec spec;
  }
}
