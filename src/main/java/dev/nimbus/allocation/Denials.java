package dev.nimbus.allocation;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * Turns a {@link Verdict.Rejected} or a {@link Verdict.OutOfPodSlots} into the sentence a user
 * reads, with the numbers that explain it: {@code pool "kvm": cpu asked 8, free 6 of 256 (64
 * physical × 4)}.
 */
public final class Denials {
  private Denials() {}

  public static String describe(String pool, Verdict.Rejected rejected) {
    Resource resource = rejected.resource();
    String name = resource.kubernetesName();
    return switch (rejected.reason()) {
      case INSUFFICIENT_CAPACITY ->
          String.format(
              "pool \"%s\": %s asked %s, free %s of %s (%s physical × %s)%s",
              pool,
              name,
              format(resource, rejected.asked()),
              format(resource, Math.max(0, rejected.free())),
              format(resource, rejected.virtual()),
              format(resource, rejected.physical()),
              ratio(rejected.physical(), rejected.virtual()),
              rejected.fitting() > 0 ? "; only " + rejected.fitting() + " instance(s) fit" : "");
      case NO_NODE_FITS ->
          String.format(
              "pool \"%s\": %s asked %s per instance, but the most free on any one node is %s"
                  + " (%s free %s of %s = %s physical × %s, spread over several nodes)",
              pool,
              name,
              format(resource, rejected.asked()),
              format(resource, Math.max(0, rejected.mostFreeOnOneNode())),
              name,
              format(resource, Math.max(0, rejected.free())),
              format(resource, rejected.virtual()),
              format(resource, rejected.physical()),
              ratio(rejected.physical(), rejected.virtual()));
      case NO_ELIGIBLE_NODE ->
          String.format(
              "pool \"%s\": no node of the pool can host this workload (none matches its"
                  + " placement: KVM for virtual servers, the named subnets for tasks)",
              pool);
    };
  }

  public static String describe(String pool, Verdict.OutOfPodSlots outOfSlots) {
    return String.format(
        "pool \"%s\": the nodes with room for an instance have no free pod slot: their kubelets"
            + " allow %d pods in all, one per instance, and the pool's instances hold them%s",
        pool,
        outOfSlots.podSlots(),
        outOfSlots.fitting() > 0 ? "; only " + outOfSlots.fitting() + " instance(s) fit" : "");
  }

  /** An amount in the units people read: cores for CPU, Ki/Mi/Gi/Ti for bytes. */
  public static String format(Resource resource, long amount) {
    if (resource == Resource.CPU) {
      return BigDecimal.valueOf(amount, 3).stripTrailingZeros().toPlainString();
    }
    String[] suffixes = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
    int index = 0;
    long value = amount;
    while (index < suffixes.length - 1 && value != 0 && value % 1024 == 0) {
      value /= 1024;
      index++;
    }
    return value + suffixes[index];
  }

  private static String ratio(long physical, long virtual) {
    if (physical == 0) {
      return "0";
    }
    return BigDecimal.valueOf(virtual)
        .divide(BigDecimal.valueOf(physical), 2, RoundingMode.HALF_UP)
        .stripTrailingZeros()
        .toPlainString();
  }
}
