package dev.nimbus.testing;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Resource;
import java.util.EnumMap;
import java.util.Map;

/** Nodes and requests of the allocation model, the shapes most tests need. */
public final class ModelFixtures {
  private ModelFixtures() {}

  /** A node with the same ratio for every resource, no labels and no bound on its pods. */
  public static Node node(String name, Amounts physical, Ratio ratio) {
    return node(name, physical, ratio, Node.UNLIMITED_PODS);
  }

  /** A node with the same ratio for every resource, no labels and {@code podSlots} pods. */
  public static Node node(String name, Amounts physical, Ratio ratio, long podSlots) {
    Map<Resource, Ratio> ratios = new EnumMap<>(Resource.class);
    for (Resource resource : Resource.values()) {
      ratios.put(resource, ratio);
    }
    return new Node(name, physical, ratios, Map.of(), podSlots);
  }

  /** A request that any node of the pool may host, with no overhead per instance. */
  public static Request anywhere(String key, Amounts perInstance, int minCount, int maxCount) {
    return new Request(key, perInstance, minCount, maxCount, labels -> true);
  }
}
