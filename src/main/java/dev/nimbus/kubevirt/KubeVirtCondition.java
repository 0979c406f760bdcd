package dev.nimbus.kubevirt;

/** A KubeVirt condition, which has lastProbeTime besides the fields of metav1.Condition. */
public class KubeVirtCondition extends KubeVirtObject {
  public String type;
  public String status;
  public String reason;
  public String message;
  public String lastProbeTime;
  public String lastTransitionTime;
}
