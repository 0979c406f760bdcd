package dev.nimbus.capacitypool;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Denials;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus.LargestFit;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus.NodeCapacity;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus.NodeResource;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus.ResourceCapacity;
import dev.nimbus.conditions.Conditions;
import java.util.Set;
import java.util.TreeSet;

/**
 * Computes a CapacityPool's status from the model; nothing here talks to the cluster. The status
 * stays small whatever the pool's size (it is written as the ledger changes, and a few hundred
 * bytes per node would pass etcd's limit of one object at a few thousand nodes): it lists the first
 * {@value #LISTED_NODES} nodes by name, and names a few lost shards.
 */
public final class PoolStatuses {
  /** Nodes whose figures the status lists; {@code nodeCount} counts them all. */
  static final int LISTED_NODES = 100;

  /** Lost shards a condition names; it counts the others. */
  private static final int NAMED_SHARDS = 10;

  private PoolStatuses() {}

  /**
   * The status of {@code object} from {@code pool}, its model, and {@code lostShards}, the nodes
   * whose ledger shard is lost until it is rebuilt.
   */
  public static CapacityPoolStatus of(CapacityPool object, Pool pool, Set<String> lostShards) {
    CapacityPoolStatus previous = object.getStatus();
    long generation =
        object.getMetadata().getGeneration() == null ? 0 : object.getMetadata().getGeneration();
    boolean hasNodes = !pool.nodes().isEmpty();
    var conditions =
        Conditions.set(
            previous == null ? null : previous.conditions(),
            "Ready",
            hasNodes,
            hasNodes ? "NodesSelected" : "NoNodes",
            hasNodes
                ? pool.nodes().size() + " node(s) selected"
                : "the nodeSelector selects no schedulable node: the pool admits nothing",
            generation);
    conditions =
        Conditions.set(
            conditions,
            "LedgerComplete",
            lostShards.isEmpty(),
            lostShards.isEmpty() ? "AllShardsHeld" : "ShardsLost",
            lostShards.isEmpty()
                ? "every node's ledger shard is held"
                : lost(lostShards)
                    + ": nothing is placed on those nodes until they are rebuilt from the stored"
                    + " workloads",
            generation);
    Node largest = pool.largestFit();
    Amounts largestFree = largest == null ? Amounts.ZERO : pool.freeOn(largest.name());
    return new CapacityPoolStatus(
        generation,
        conditions,
        pool.nodes().size(),
        total(pool, Resource.CPU),
        total(pool, Resource.MEMORY),
        total(pool, Resource.EPHEMERAL_STORAGE),
        largest == null
            ? null
            : new LargestFit(
                largest.name(),
                format(Resource.CPU, largestFree),
                format(Resource.MEMORY, largestFree),
                format(Resource.EPHEMERAL_STORAGE, largestFree)),
        pool.nodes().stream().limit(LISTED_NODES).map(n -> node(pool, n)).toList());
  }

  /** Which shards are lost: all of them by name when they are few, else a few and a count. */
  private static String lost(Set<String> nodes) {
    var sorted = new TreeSet<>(nodes);
    if (sorted.size() <= NAMED_SHARDS) {
      return "the ledger shards of " + sorted + " are lost (deleted, or not readable)";
    }
    return "the ledger shards of "
        + sorted.size()
        + " nodes are lost (deleted, or not readable), among them "
        + sorted.stream().limit(NAMED_SHARDS).toList()
        + " and "
        + (sorted.size() - NAMED_SHARDS)
        + " more";
  }

  private static ResourceCapacity total(Pool pool, Resource resource) {
    return new ResourceCapacity(
        format(resource, pool.physical()),
        format(resource, pool.virtual()),
        format(resource, pool.allocated()),
        format(resource, pool.free()));
  }

  private static NodeCapacity node(Pool pool, Node node) {
    Amounts allocated = pool.allocatedOn(node.name());
    Amounts free = pool.freeOn(node.name());
    return new NodeCapacity(
        node.name(),
        nodeResource(node, Resource.CPU, allocated, free),
        nodeResource(node, Resource.MEMORY, allocated, free),
        nodeResource(node, Resource.EPHEMERAL_STORAGE, allocated, free));
  }

  private static NodeResource nodeResource(
      Node node, Resource resource, Amounts allocated, Amounts free) {
    return new NodeResource(
        format(resource, node.physical()),
        node.ratio(resource).value(),
        format(resource, node.virtual()),
        format(resource, allocated),
        format(resource, free));
  }

  private static String format(Resource resource, Amounts amounts) {
    return Denials.format(resource, amounts.get(resource));
  }
}
