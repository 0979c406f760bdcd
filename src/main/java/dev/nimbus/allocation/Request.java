package dev.nimbus.allocation;

import java.util.Map;
import java.util.function.Predicate;

/**
 * A request for room: between {@code minCount} and {@code maxCount} instances of {@code
 * perInstance} each, on nodes that {@code eligible} accepts (KVM nodes for virtual servers, the
 * named zones for tasks). EC2 semantics: as many as fit up to maxCount, or none if fewer than
 * minCount fit.
 */
public record Request(
    String key,
    Amounts perInstance,
    int minCount,
    int maxCount,
    Predicate<Map<String, String>> eligible) {

  public Request {
    if (minCount < 0 || maxCount < minCount) {
      throw new IllegalArgumentException(
          "need 0 <= minCount <= maxCount, got " + minCount + ".." + maxCount);
    }
  }

  /** Any node of the pool will do. */
  public static Request anywhere(String key, Amounts perInstance, int minCount, int maxCount) {
    return new Request(key, perInstance, minCount, maxCount, labels -> true);
  }
}
