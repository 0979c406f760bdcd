package dev.nimbus.allocation;

import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A request for room: between {@code minCount} and {@code maxCount} instances of {@code
 * perInstance} each, on nodes that {@code eligible} accepts (KVM nodes for virtual servers, the
 * named zones for tasks). EC2 semantics: as many as fit up to maxCount, or none if fewer than
 * minCount fit.
 *
 * <p>{@code overheadOn} is what the runtime adds per instance on a node, in physical units, beyond
 * what the workload's requests ask (KubeVirt's launcher pod around a VM); it may depend on the
 * node, as the requests do. An instance holds its demand and that overhead, at the node's ratio.
 */
public record Request(
    String key,
    Amounts perInstance,
    int minCount,
    int maxCount,
    Predicate<Map<String, String>> eligible,
    Function<Node, Amounts> overheadOn) {

  public Request {
    if (minCount < 0 || maxCount < minCount) {
      throw new IllegalArgumentException(
          "need 0 <= minCount <= maxCount, got " + minCount + ".." + maxCount);
    }
  }

  /** A request whose instances cost nothing beyond their own requests. */
  public Request(
      String key,
      Amounts perInstance,
      int minCount,
      int maxCount,
      Predicate<Map<String, String>> eligible) {
    this(key, perInstance, minCount, maxCount, eligible, node -> Amounts.ZERO);
  }

  /** What one instance holds of {@code node}'s virtual capacity: its demand and its overhead. */
  public Amounts heldOn(Node node) {
    return perInstance.plus(node.virtualOf(overheadOn.apply(node)));
  }
}
