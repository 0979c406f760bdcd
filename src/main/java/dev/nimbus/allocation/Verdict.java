package dev.nimbus.allocation;

/** The answer to a {@link Request}: admitted with a reservation, or rejected with the numbers. */
public sealed interface Verdict permits Verdict.Admitted, Verdict.Rejected {

  /** Room was found for {@code reservation.count()} instances, between minCount and maxCount. */
  record Admitted(Reservation reservation) implements Verdict {}

  /**
   * Fewer than minCount instances fit. {@code resource} is what ran out; {@code asked} is the
   * demand of minCount instances and {@code free} what is free of it on the eligible nodes, in the
   * resource's units; {@code physical} and {@code virtual} are the eligible nodes' totals.
   */
  record Rejected(
      Reason reason,
      Resource resource,
      long asked,
      long free,
      long physical,
      long virtual,
      int fitting)
      implements Verdict {}

  /** Why a request was rejected. */
  enum Reason {
    /** The pool as a whole has less free than asked. */
    INSUFFICIENT_CAPACITY,
    /**
     * The pool has room in total, but no single node has room for one instance (room spread over
     * many nodes does not host one large instance).
     */
    NO_NODE_FITS,
    /** No node of the pool is eligible (none exposes KVM, none is in the named zones). */
    NO_ELIGIBLE_NODE
  }
}
