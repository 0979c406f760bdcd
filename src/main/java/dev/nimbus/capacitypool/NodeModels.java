package dev.nimbus.capacitypool;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import io.fabric8.kubernetes.api.model.Node;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The nodes a pool decides on, as {@link PoolModels} builds them, kept per node version and pool
 * spec: every decision asks for all of its pool's nodes, and reading the quantities of a thousand
 * nodes for each one cost more than the decision itself. A node's model is built again when the
 * node or the pool's spec is another object than the one it was built from: the informers replace
 * an object on every change, never edit it, so a kept model is never stale. The list is the same
 * object for as long as no node's model changed (a heartbeat changes none), so that what is derived
 * from it can be kept too.
 */
public final class NodeModels {
  private final Map<String, PoolNodes> pools = new ConcurrentHashMap<>();

  /**
   * The models of the nodes {@code pool} selects among {@code allNodes}, sorted by name, without
   * those named in {@code lost} (nodes whose ledger shard is lost: what they hold is not known).
   */
  public List<dev.nimbus.allocation.Node> deciding(
      CapacityPool pool, Collection<Node> allNodes, Set<String> lost) {
    return pools
        .computeIfAbsent(pool.getMetadata().getName(), name -> new PoolNodes())
        .models(pool.getSpec(), allNodes, lost);
  }

  /** What is kept of one node: the object and spec its model was built from. */
  private record Kept(Node source, CapacityPoolSpec spec, dev.nimbus.allocation.Node model) {
    boolean builtFrom(Node node, CapacityPoolSpec poolSpec) {
      return source == node && (spec == poolSpec || spec.equals(poolSpec));
    }
  }

  /** One pool's kept models, and the last list it answered. */
  private static final class PoolNodes {
    private final Map<String, Kept> kept = new HashMap<>();
    private List<dev.nimbus.allocation.Node> last = List.of();
    private Set<String> lastLost = Set.of();
    private int lastSeen = -1;

    synchronized List<dev.nimbus.allocation.Node> models(
        CapacityPoolSpec spec, Collection<Node> allNodes, Set<String> lost) {
      boolean changed = allNodes.size() != lastSeen || !lost.equals(lastLost);
      for (Node node : allNodes) {
        String name = node.getMetadata().getName();
        Kept known = kept.get(name);
        if (known == null || !known.builtFrom(node, spec)) {
          // A node the pool does not select is kept too, with no model: its labels were read.
          List<Node> selected = PoolModels.selectedNodes(spec, List.of(node));
          dev.nimbus.allocation.Node model =
              selected.isEmpty() ? null : PoolModels.node(spec, node);
          // A heartbeat changes a node's status, not its model: the list stays the same object.
          if (known != null && Objects.equals(known.model(), model)) {
            model = known.model();
          } else {
            changed = true;
          }
          kept.put(name, new Kept(node, spec, model));
        }
      }
      if (!changed) {
        return last;
      }
      Set<String> present = new HashSet<>();
      List<dev.nimbus.allocation.Node> models = new ArrayList<>();
      for (Node node : allNodes) {
        String name = node.getMetadata().getName();
        present.add(name);
        Kept known = kept.get(name);
        if (known.model() != null && !lost.contains(name)) {
          models.add(known.model());
        }
      }
      kept.keySet().retainAll(present);
      models.sort(Comparator.comparing(dev.nimbus.allocation.Node::name));
      last = List.copyOf(models);
      lastLost = Set.copyOf(lost);
      lastSeen = allNodes.size();
      return last;
    }
  }
}
