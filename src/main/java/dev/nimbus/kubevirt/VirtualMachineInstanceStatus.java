package dev.nimbus.kubevirt;

import java.util.List;

/** {@code VirtualMachineInstance.status}: where the VM runs and how to reach it. */
public class VirtualMachineInstanceStatus extends KubeVirtObject {
  /** Pending, Scheduling, Scheduled, Running, Succeeded, Failed or Unknown. */
  public String phase;

  public String nodeName;
  public List<InterfaceStatus> interfaces;
  public List<KubeVirtCondition> conditions;

  /** One guest interface and its addresses. */
  public static class InterfaceStatus extends KubeVirtObject {
    public String name;
    public String ipAddress;
    public List<String> ipAddresses;
    public String mac;
  }
}
