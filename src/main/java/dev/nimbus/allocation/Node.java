package dev.nimbus.allocation;

import java.util.Map;

/**
 * One node of a pool as the model sees it: its physical capacity {@code P_i} (allocatable minus
 * what the pool reserves, never below zero), its ratio {@code R_i} per resource, the labels that
 * decide which workloads may land on it, and its pod slots: every instance is one pod (a VM's
 * launcher, a task's pod), and a node runs at most its kubelet's {@code maxPods}, whatever room its
 * ratios leave.
 */
public record Node(
    String name,
    Amounts physical,
    Map<Resource, Ratio> ratios,
    Map<String, String> labels,
    long podSlots) {
  /** The pod slots of a node that states none. */
  public static final long UNLIMITED_PODS = Long.MAX_VALUE;

  public Node {
    ratios = Map.copyOf(ratios);
    labels = Map.copyOf(labels);
    for (Resource resource : Resource.values()) {
      if (!ratios.containsKey(resource)) {
        throw new IllegalArgumentException("node " + name + " has no ratio for " + resource);
      }
    }
    if (podSlots < 0) {
      throw new IllegalArgumentException("node " + name + " has " + podSlots + " pod slots");
    }
  }

  public Ratio ratio(Resource resource) {
    return ratios.get(resource);
  }

  /** {@code P_i × R_i} per resource: what this node may promise. */
  public Amounts virtual() {
    return Amounts.of(
        ratio(Resource.CPU).applyTo(physical.get(Resource.CPU)),
        ratio(Resource.MEMORY).applyTo(physical.get(Resource.MEMORY)),
        ratio(Resource.EPHEMERAL_STORAGE).applyTo(physical.get(Resource.EPHEMERAL_STORAGE)));
  }

  /**
   * The virtual capacity that {@code physical} takes of this node: physical amounts, such as what a
   * runtime adds to a workload's requests, are not overcommitted, so they cost {@code × R_i}.
   */
  public Amounts virtualOf(Amounts physical) {
    return Amounts.of(
        ratio(Resource.CPU).applyToRoundingUp(physical.get(Resource.CPU)),
        ratio(Resource.MEMORY).applyToRoundingUp(physical.get(Resource.MEMORY)),
        ratio(Resource.EPHEMERAL_STORAGE)
            .applyToRoundingUp(physical.get(Resource.EPHEMERAL_STORAGE)));
  }

  /** What a workload holding {@code demand} of this node's virtual capacity requests of it. */
  public Amounts requestsFor(Amounts demand) {
    return Amounts.of(
        ratio(Resource.CPU).divide(demand.get(Resource.CPU)),
        ratio(Resource.MEMORY).divide(demand.get(Resource.MEMORY)),
        ratio(Resource.EPHEMERAL_STORAGE).divide(demand.get(Resource.EPHEMERAL_STORAGE)));
  }
}
