package dev.nimbus.allocation;

/**
 * The answer to a {@link Request}: admitted with a reservation, or refused with the numbers that
 * decided it: short of a resource, or of pod slots.
 */
public sealed interface Verdict permits Verdict.Admitted, Verdict.Rejected, Verdict.OutOfPodSlots {

  /** Room was found for {@code reservation.count()} instances, between minCount and maxCount. */
  record Admitted(Reservation reservation) implements Verdict {}

  /**
   * Fewer than minCount instances fit, with the numbers that decided it, all of {@code resource}
   * (what ran out, in its units): {@code asked} is the demand of minCount instances (of one
   * instance when no node fits), {@code free} what the eligible nodes have free in total and {@code
   * mostFreeOnOneNode} on the roomiest of them; {@code physical} and {@code virtual} are the
   * eligible nodes' totals, and {@code fitting} how many instances would have fitted.
   */
  record Rejected(
      Reason reason,
      Resource resource,
      long asked,
      long free,
      long mostFreeOnOneNode,
      long physical,
      long virtual,
      int fitting)
      implements Verdict {}

  /**
   * Fewer than minCount instances fit because the nodes with room for the next one have no free pod
   * slot (every instance is one pod): {@code podSlots} are the pods those nodes' kubelets allow in
   * all, and {@code fitting} how many instances would have fitted.
   */
  record OutOfPodSlots(long podSlots, int fitting) implements Verdict {}

  /** Why a request was rejected for want of a resource. */
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
