package dev.nimbus.allocation;

import java.util.List;

/**
 * What one workload holds in a pool: one placement per admitted instance, each a node and the
 * demand it holds there in virtual units. The key identifies the workload (its UID).
 */
public record Reservation(String key, List<Placement> placements) {
  public Reservation {
    placements = List.copyOf(placements);
  }

  /**
   * One instance: the node it is placed on, its demand there in virtual units (what the workload
   * gets), and the runtime's overhead in physical units (see {@link Request#overheadOn}).
   */
  public record Placement(String node, Amounts demand, Amounts overhead) {
    /** An instance without overhead. */
    public Placement(String node, Amounts demand) {
      this(node, demand, Amounts.ZERO);
    }
  }

  public int count() {
    return placements.size();
  }

  /** The demand of all instances, without their overhead. */
  public Amounts total() {
    Amounts total = Amounts.ZERO;
    for (Placement placement : placements) {
      total = total.plus(placement.demand());
    }
    return total;
  }
}
