package dev.nimbus.inventory;

import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerStatus;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The nodes of each pool that stored workloads' statuses place instances on, kept from the workload
 * informers' events: a node named here whose ledger shard is absent lost that shard while no
 * replica watched (deleted while Nimbus was down, or an install moved to another namespace), and
 * nothing may be admitted onto it until it is rebuilt.
 */
final class StoredPlacements implements ResourceEventHandler<HasMetadata> {
  private static final String STOPPED = "STOPPED";

  private record PoolNode(String pool, String node) {}

  private final Map<String, Set<PoolNode>> byUid = new HashMap<>();
  private final Map<String, Map<String, Integer>> workloadsByPoolAndNode = new HashMap<>();
  // The node sets handed out, by pool: every ledger snapshot asks, and a pool's set changes only
  // when a node gains its first workload or loses its last.
  private final Map<String, Set<String>> views = new HashMap<>();

  /** The nodes of {@code pool} that some stored workload's status places an instance on. */
  synchronized Set<String> nodes(String pool) {
    return views.computeIfAbsent(
        pool,
        p -> {
          Map<String, Integer> nodes = workloadsByPoolAndNode.get(p);
          return nodes == null ? Set.of() : Set.copyOf(nodes.keySet());
        });
  }

  @Override
  public void onAdd(HasMetadata workload) {
    put(workload.getMetadata().getUid(), placements(workload));
  }

  @Override
  public void onUpdate(HasMetadata before, HasMetadata workload) {
    onAdd(workload);
  }

  @Override
  public void onDelete(HasMetadata workload, boolean finalStateUnknown) {
    put(workload.getMetadata().getUid(), Set.of());
  }

  private synchronized void put(String uid, Set<PoolNode> placements) {
    Set<PoolNode> before = placements.isEmpty() ? byUid.remove(uid) : byUid.put(uid, placements);
    if (before != null) {
      before.stream().filter(p -> !placements.contains(p)).forEach(p -> count(p, -1));
    }
    placements.stream()
        .filter(p -> before == null || !before.contains(p))
        .forEach(p -> count(p, 1));
  }

  private void count(PoolNode placement, int delta) {
    Map<String, Integer> nodes =
        workloadsByPoolAndNode.computeIfAbsent(placement.pool(), p -> new HashMap<>());
    Integer now = nodes.merge(placement.node(), delta, (a, b) -> a + b == 0 ? null : a + b);
    if (now == null || now.equals(delta)) {
      views.remove(placement.pool()); // a node gained its first workload or lost its last
    }
    if (nodes.isEmpty()) {
      workloadsByPoolAndNode.remove(placement.pool());
    }
  }

  private static Set<PoolNode> placements(HasMetadata workload) {
    Set<PoolNode> placements = new HashSet<>();
    if (workload instanceof VirtualServer server) {
      VirtualServerStatus status = server.getStatus();
      if (status != null && status.pool() != null && status.instances() != null) {
        status.instances().stream()
            .filter(instance -> instance.node() != null)
            .forEach(instance -> placements.add(new PoolNode(status.pool(), instance.node())));
      }
    } else if (workload instanceof ContainerTask task) {
      ContainerTaskStatus status = task.getStatus();
      if (status != null
          && status.cluster() != null
          && status.tasks() != null
          && !status.tasks().stream().allMatch(t -> STOPPED.equals(t.lastStatus()))) {
        status.tasks().stream()
            .filter(one -> one.node() != null)
            .forEach(one -> placements.add(new PoolNode(status.cluster(), one.node())));
      }
    }
    return placements.isEmpty() ? Set.of() : Set.copyOf(placements);
  }
}
