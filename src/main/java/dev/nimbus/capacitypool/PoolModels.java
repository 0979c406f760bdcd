package dev.nimbus.capacitypool;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.ledger.Ledger;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the allocation model of a pool from Kubernetes objects: which nodes the pool selects,
 * their physical capacity {@code P_i} (allocatable minus the pool's reserved amount, never below
 * zero) and their ratios {@code R_i} (the pool's, or the node's override annotation). Unschedulable
 * (cordoned) nodes are left out, so that no new instance is placed there.
 */
public final class PoolModels {
  private PoolModels() {}

  public static Pool pool(CapacityPool pool, Collection<Node> allNodes, List<Reservation> held) {
    List<dev.nimbus.allocation.Node> nodes =
        selectedNodes(pool, allNodes).stream().map(n -> node(pool.getSpec(), n)).toList();
    return new Pool(pool.getMetadata().getName(), nodes, held);
  }

  /**
   * The model to decide on in {@code pool} with {@code ledger}: its nodes without those whose
   * ledger shard is lost, since what they hold is not known.
   */
  public static Pool deciding(CapacityPool pool, Collection<Node> allNodes, Ledger ledger) {
    return deciding(pool, allNodes, ledger, ledger.reservations());
  }

  /** As {@link #deciding(CapacityPool, Collection, Ledger)}, holding {@code held}. */
  public static Pool deciding(
      CapacityPool pool, Collection<Node> allNodes, Ledger ledger, List<Reservation> held) {
    List<Node> known =
        allNodes.stream()
            .filter(n -> !ledger.lostNodes().contains(n.getMetadata().getName()))
            .toList();
    return pool(pool, known, held);
  }

  public static List<Node> selectedNodes(CapacityPool pool, Collection<Node> allNodes) {
    return selectedNodes(pool.getSpec(), allNodes);
  }

  /** The schedulable nodes among {@code allNodes} that a pool of {@code spec} selects. */
  static List<Node> selectedNodes(CapacityPoolSpec spec, Collection<Node> allNodes) {
    LabelSelector selector = spec.nodeSelector();
    return allNodes.stream()
        .filter(n -> n.getSpec() == null || !Boolean.TRUE.equals(n.getSpec().getUnschedulable()))
        .filter(n -> matches(selector, labels(n)))
        .toList();
  }

  public static dev.nimbus.allocation.Node node(CapacityPoolSpec spec, Node node) {
    Map<String, Quantity> allocatable =
        node.getStatus() == null || node.getStatus().getAllocatable() == null
            ? Map.of()
            : node.getStatus().getAllocatable();
    PoolReserved reserved = spec.reserved();
    Amounts physical =
        Amounts.of(
            Math.max(
                0,
                millis(allocatable.get("cpu")) - millis(reserved == null ? null : reserved.cpu())),
            Math.max(
                0,
                bytes(allocatable.get("memory"))
                    - bytes(reserved == null ? null : reserved.memory())),
            Math.max(
                0,
                bytes(allocatable.get("ephemeral-storage"))
                    - bytes(reserved == null ? null : reserved.ephemeralStorage())));
    Map<Resource, Ratio> ratios = new EnumMap<>(Resource.class);
    PoolRatios poolRatios = spec.ratios();
    ratios.put(
        Resource.CPU, ratio(node, Resource.CPU, poolRatios == null ? null : poolRatios.cpu()));
    ratios.put(
        Resource.MEMORY,
        ratio(node, Resource.MEMORY, poolRatios == null ? null : poolRatios.memory()));
    ratios.put(
        Resource.EPHEMERAL_STORAGE,
        ratio(
            node,
            Resource.EPHEMERAL_STORAGE,
            poolRatios == null ? null : poolRatios.ephemeralStorage()));
    // Every instance is one pod, and a node runs no more pods than its kubelet allows. Unstated
    // (a node that never reported), no limit: the scheduler would not place on it either way.
    Quantity pods = allocatable.get("pods");
    long podSlots =
        pods == null ? dev.nimbus.allocation.Node.UNLIMITED_PODS : Math.max(0, bytes(pods));
    return new dev.nimbus.allocation.Node(
        node.getMetadata().getName(), physical, ratios, labels(node), podSlots);
  }

  /** The node's override annotation if it holds a ratio above 0, else the pool's, else 1. */
  private static Ratio ratio(Node node, Resource resource, Double poolRatio) {
    Map<String, String> annotations = node.getMetadata().getAnnotations();
    String override =
        annotations == null
            ? null
            : annotations.get(CapacityPool.RATIO_ANNOTATION_PREFIX + resource.kubernetesName());
    if (override != null) {
      try {
        double value = Double.parseDouble(override);
        if (value > 0 && value <= 64) {
          return Ratio.of(value);
        }
      } catch (NumberFormatException ignored) {
        // An unreadable override is ignored; the pool's ratio applies.
      }
    }
    return poolRatio == null ? Ratio.ONE : Ratio.of(poolRatio);
  }

  /**
   * The most a node counts of each resource (2^44: 16 TiB of memory or ephemeral storage, about 17
   * million CPUs). A node that reports more counts as this much: times the largest ratio and summed
   * over thousands of nodes, the model's exact arithmetic still fits a 64-bit count.
   */
  public static final long MAX_NODE_AMOUNT = 1L << 44;

  /** The largest instance memory Nimbus counts: what the largest node counts. */
  public static final long MAX_INSTANCE_BYTES = MAX_NODE_AMOUNT;

  /** A node's quantity in millicores, at most {@link #MAX_NODE_AMOUNT}. */
  public static long millis(Object quantity) {
    return counted(quantity, BigDecimal.valueOf(1000));
  }

  /** A node's quantity in bytes, at most {@link #MAX_NODE_AMOUNT}. */
  public static long bytes(Object quantity) {
    return counted(quantity, BigDecimal.ONE);
  }

  private static long counted(Object quantity, BigDecimal unit) {
    if (quantity == null) {
      return 0;
    }
    BigDecimal amount = Quantity.getAmountInBytes(quantity(quantity)).multiply(unit);
    return amount.compareTo(BigDecimal.valueOf(MAX_NODE_AMOUNT)) > 0
        ? MAX_NODE_AMOUNT
        : amount.setScale(0, RoundingMode.FLOOR).longValueExact();
  }

  /**
   * An instance's memory in bytes, rounded up; refused when it is more than {@link
   * #MAX_INSTANCE_BYTES}, never wrapped into a small number.
   */
  public static long instanceBytes(String quantity) {
    BigDecimal amount = Quantity.getAmountInBytes(quantity(quantity));
    if (amount.compareTo(BigDecimal.valueOf(MAX_INSTANCE_BYTES)) > 0) {
      throw new IllegalArgumentException(
          "memory " + quantity + " is more than Nimbus counts for one instance (at most 16Ti)");
    }
    return amount.setScale(0, RoundingMode.CEILING).longValueExact();
  }

  private static Quantity quantity(Object quantity) {
    return quantity instanceof Quantity given ? given : new Quantity(quantity.toString());
  }

  private static Map<String, String> labels(Node node) {
    return node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels();
  }

  /** Kubernetes label-selector semantics: every matchLabels entry and every expression holds. */
  public static boolean matches(LabelSelector selector, Map<String, String> labels) {
    if (selector == null) {
      return true;
    }
    if (selector.getMatchLabels() != null) {
      for (var entry : selector.getMatchLabels().entrySet()) {
        if (!entry.getValue().equals(labels.get(entry.getKey()))) {
          return false;
        }
      }
    }
    if (selector.getMatchExpressions() != null) {
      for (LabelSelectorRequirement requirement : selector.getMatchExpressions()) {
        String value = labels.get(requirement.getKey());
        List<String> values = requirement.getValues() == null ? List.of() : requirement.getValues();
        boolean holds =
            switch (requirement.getOperator()) {
              case "In" -> value != null && values.contains(value);
              case "NotIn" -> value == null || !values.contains(value);
              case "Exists" -> value != null;
              case "DoesNotExist" -> value == null;
              default -> false;
            };
        if (!holds) {
          return false;
        }
      }
    }
    return true;
  }
}
