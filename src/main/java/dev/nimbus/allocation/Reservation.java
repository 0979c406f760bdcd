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

  /** One instance: the node it is placed on and what it holds there. */
  public record Placement(String node, Amounts demand) {}

  public int count() {
    return placements.size();
  }

  public Amounts total() {
    Amounts total = Amounts.ZERO;
    for (Placement placement : placements) {
      total = total.plus(placement.demand());
    }
    return total;
  }
}
