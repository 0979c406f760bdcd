package dev.nimbus.allocation;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A snapshot of one pool: its nodes and the reservations held in it. Immutable; {@link #admit} and
 * {@link #release} return the next snapshot. Per resource the pool offers {@code V = Σ P_i × R_i};
 * "allocated" is what the reservations hold, "free" is V minus allocated. A reservation on a node
 * that has left the pool still counts as allocated (its workload still runs), but the node's
 * capacity no longer counts in V.
 */
public final class Pool {
  private final String name;
  private final Map<String, Node> nodes;
  private final Map<String, Reservation> reservations;
  // Reservations changed since the snapshot of `reservations`, by key; empty: released. A pool
  // changed so shares the rest with the snapshot it was changed from.
  private final Map<String, Optional<Reservation>> changes;
  // What the reservations hold on each node and how many instances they place there, summed once:
  // a snapshot never changes, and a pool's status asks it of every node.
  private volatile PerNode perNode;

  public Pool(String name, List<Node> nodes, List<Reservation> reservations) {
    this.name = name;
    Map<String, Node> byName = new LinkedHashMap<>();
    nodes.stream().sorted(Comparator.comparing(Node::name)).forEach(n -> byName.put(n.name(), n));
    this.nodes = byName;
    Map<String, Reservation> byKey = new LinkedHashMap<>();
    reservations.forEach(r -> byKey.put(r.key(), r));
    this.reservations = byKey;
    this.changes = Map.of();
  }

  private Pool(
      String name,
      Map<String, Node> nodes,
      Map<String, Reservation> reservations,
      Map<String, Optional<Reservation>> changes,
      PerNode perNode) {
    this.name = name;
    this.nodes = nodes;
    this.reservations = reservations;
    this.changes = changes;
    this.perNode = perNode;
  }

  /** What reservations hold on each node, and the instances they place on it. */
  private record PerNode(Map<String, Amounts> allocated, Map<String, Long> instances) {
    PerNode copy() {
      return new PerNode(new HashMap<>(allocated), new HashMap<>(instances));
    }

    PerNode frozen() {
      return new PerNode(Map.copyOf(allocated), Map.copyOf(instances));
    }
  }

  /**
   * This snapshot with {@code changed} reservations held instead of what it holds under their keys
   * (empty: none), built from what this one summed and corrected by the changes alone: the next
   * decision of a commit round costs what its round changed, not what the pool holds.
   */
  public Pool changed(Map<String, Optional<Reservation>> changed) {
    if (changed.isEmpty()) {
      return this;
    }
    Map<String, Optional<Reservation>> next = new HashMap<>(changes);
    next.putAll(changed);
    PerNode sums = perNode().copy();
    for (var change : changed.entrySet()) {
      Reservation before = reservation(change.getKey());
      if (before != null) {
        add(sums, before, -1);
      }
      change.getValue().ifPresent(after -> add(sums, after, 1));
    }
    return new Pool(name, nodes, reservations, Map.copyOf(next), sums.frozen());
  }

  /**
   * Adds what {@code reservation} holds and places on each node to {@code sums}, or takes it off.
   */
  private void add(PerNode sums, Reservation reservation, int sign) {
    for (Reservation.Placement placement : reservation.placements()) {
      Amounts held = held(placement);
      sums.allocated()
          .merge(placement.node(), sign > 0 ? held : Amounts.ZERO.minus(held), Amounts::plus);
      sums.instances().merge(placement.node(), (long) sign, Long::sum);
    }
  }

  public String name() {
    return name;
  }

  public List<Node> nodes() {
    return List.copyOf(nodes.values());
  }

  public List<Reservation> reservations() {
    if (changes.isEmpty()) {
      return List.copyOf(reservations.values());
    }
    List<Reservation> all = new ArrayList<>();
    reservations.values().stream().filter(r -> !changes.containsKey(r.key())).forEach(all::add);
    changes.values().forEach(r -> r.ifPresent(all::add));
    return List.copyOf(all);
  }

  public Reservation reservation(String key) {
    Optional<Reservation> changed = changes.get(key);
    return changed != null ? changed.orElse(null) : reservations.get(key);
  }

  /** P: the physical capacity of the pool's nodes. */
  public Amounts physical() {
    return nodes.values().stream().map(Node::physical).reduce(Amounts.ZERO, Amounts::plus);
  }

  /** V = Σ P_i × R_i. */
  public Amounts virtual() {
    return nodes.values().stream().map(Node::virtual).reduce(Amounts.ZERO, Amounts::plus);
  }

  /** What all reservations hold, wherever their instances are placed, with their overhead. */
  public Amounts allocated() {
    return allocatedTotal(allocatedPerNode());
  }

  /** V − allocated; negative where nodes left while their workloads kept running. */
  public Amounts free() {
    return virtual().minus(allocated());
  }

  /** What the reservations hold on one node. */
  public Amounts allocatedOn(String node) {
    return allocatedPerNode().getOrDefault(node, Amounts.ZERO);
  }

  /** The node's virtual capacity minus what is placed on it. */
  public Amounts freeOn(String node) {
    return nodes.get(node).virtual().minus(allocatedOn(node));
  }

  /**
   * The node that can host the largest single instance: the most free CPU, then memory, then
   * ephemeral storage; null for a pool without nodes.
   */
  public Node largestFit() {
    Map<String, Amounts> allocated = allocatedPerNode();
    return nodes.values().stream()
        .max(
            Comparator.<Node>comparingLong(n -> free(n, allocated).get(Resource.CPU))
                .thenComparingLong(n -> free(n, allocated).get(Resource.MEMORY))
                .thenComparingLong(n -> free(n, allocated).get(Resource.EPHEMERAL_STORAGE))
                .thenComparing(Node::name, Comparator.reverseOrder()))
        .orElse(null);
  }

  /**
   * Decides a request against this snapshot. A reservation already held under the request's key (an
   * update) is set aside first: the request replaces it if admitted. Instances are placed one by
   * one on the eligible node with room where the least CPU would be left (best fit), so that large
   * holes stay open for large instances. An update that keeps the size of an instance (a scale up
   * or down) keeps instance {@code i} on the node it held, where it still fits: running instances
   * never move because their neighbours changed.
   */
  public Verdict admit(Request request) {
    // Grows as instances are placed below.
    PerNode placed = othersThan(request.key());
    Map<String, Amounts> allocated = placed.allocated();
    Map<String, Long> instances = placed.instances();
    List<Node> eligible =
        nodes.values().stream().filter(n -> request.eligible().test(n.labels())).toList();
    List<String> held = heldNodes(request);
    List<Reservation.Placement> placements = new ArrayList<>();
    // The pool-wide bound, allocated + demand <= V, holds even where nodes left the pool while
    // their workloads kept running: then V shrank below what the per-node room suggests.
    Amounts poolFree = virtual().minus(allocatedTotal(allocated));
    while (placements.size() < request.maxCount()) {
      Node best = null;
      long bestLeft = Long.MAX_VALUE;
      Node previous =
          placements.size() < held.size() ? nodes.get(held.get(placements.size())) : null;
      if (previous != null
          && eligible.contains(previous)
          && fits(request.heldOn(previous), free(previous, allocated), poolFree)
          && hasPodSlot(previous, instances)) {
        best = previous;
      }
      for (Node node : best != null ? List.<Node>of() : eligible) {
        Amounts room = free(node, allocated);
        Amounts holds = request.heldOn(node);
        if (fits(holds, room, poolFree) && hasPodSlot(node, instances)) {
          long left = room.get(Resource.CPU) - holds.get(Resource.CPU);
          if (left < bestLeft) {
            best = node;
            bestLeft = left;
          }
        }
      }
      if (best == null) {
        break;
      }
      Amounts holds = request.heldOn(best);
      placements.add(
          new Reservation.Placement(
              best.name(), request.perInstance(), request.overheadOn().apply(best)));
      allocated.merge(best.name(), holds, Amounts::plus);
      instances.merge(best.name(), 1L, Long::sum);
      poolFree = poolFree.minus(holds);
    }
    if (placements.size() >= request.minCount()) {
      return new Verdict.Admitted(new Reservation(request.key(), placements));
    }
    return rejection(request, eligible, placements.size(), allocated, instances, poolFree);
  }

  private static boolean fits(Amounts holds, Amounts nodeFree, Amounts poolFree) {
    return holds.fitsIn(nodeFree) && holds.fitsIn(poolFree);
  }

  private static boolean hasPodSlot(Node node, Map<String, Long> instances) {
    return instances.getOrDefault(node.name(), 0L) < node.podSlots();
  }

  /**
   * Why fewer than minCount instances fit, with the pool's figures before the request; {@code
   * placedAllocated}, {@code placedInstances} and {@code placedPoolFree} are the pool with the
   * instances that did fit, where the next one found no node.
   */
  private Verdict rejection(
      Request request,
      List<Node> eligible,
      int fitting,
      Map<String, Amounts> placedAllocated,
      Map<String, Long> placedInstances,
      Amounts placedPoolFree) {
    Amounts physical = eligible.stream().map(Node::physical).reduce(Amounts.ZERO, Amounts::plus);
    Amounts virtual = eligible.stream().map(Node::virtual).reduce(Amounts.ZERO, Amounts::plus);
    Map<String, Amounts> allocated = othersThan(request.key()).allocated();
    Amounts eligibleFree =
        eligible.stream().map(n -> free(n, allocated)).reduce(Amounts.ZERO, Amounts::plus);
    // Where nodes left while their workloads run on, the pool-wide room is the smaller one.
    Amounts poolFree = virtual().minus(allocatedTotal(allocated));
    Amounts free = smaller(eligibleFree, poolFree);
    // What one instance holds with its overhead: at most this, on the eligible node where it is
    // the largest, so that the figures of a denial are the ones that decided it.
    Amounts perInstance =
        eligible.stream().map(request::heldOn).reduce(Pool::larger).orElse(request.perInstance());
    Amounts asked = perInstance.times(request.minCount());
    if (eligible.isEmpty()) {
      Resource resource = Resource.CPU;
      return new Verdict.Rejected(
          Verdict.Reason.NO_ELIGIBLE_NODE, resource, asked.get(resource), 0, 0, 0, 0, 0);
    }
    Resource short_ = asked.firstExceeding(free);
    if (short_ != null) {
      return new Verdict.Rejected(
          Verdict.Reason.INSUFFICIENT_CAPACITY,
          short_,
          asked.get(short_),
          free.get(short_),
          mostFreeOnOneNode(eligible, allocated, short_),
          physical.get(short_),
          virtual.get(short_),
          fitting);
    }
    // Room for the next instance on nodes whose pod slots are all taken: name the slots that
    // decided it.
    List<Node> roomWithoutSlot =
        eligible.stream()
            .filter(n -> fits(request.heldOn(n), free(n, placedAllocated), placedPoolFree))
            .filter(n -> !hasPodSlot(n, placedInstances))
            .toList();
    if (!roomWithoutSlot.isEmpty()) {
      long slots = roomWithoutSlot.stream().mapToLong(Node::podSlots).sum();
      return new Verdict.OutOfPodSlots(slots, fitting);
    }
    // Enough room in total: it is spread too thin. Name the resource that no node has enough of;
    // where each resource fits somewhere but never all on one node, CPU.
    Resource resource = Resource.CPU;
    for (Resource candidate : Resource.values()) {
      if (mostFreeOnOneNode(eligible, allocated, candidate) < perInstance.get(candidate)) {
        resource = candidate;
        break;
      }
    }
    return new Verdict.Rejected(
        Verdict.Reason.NO_NODE_FITS,
        resource,
        perInstance.get(resource),
        free.get(resource),
        mostFreeOnOneNode(eligible, allocated, resource),
        physical.get(resource),
        virtual.get(resource),
        fitting);
  }

  private long mostFreeOnOneNode(
      List<Node> eligible, Map<String, Amounts> allocated, Resource resource) {
    return eligible.stream().mapToLong(n -> free(n, allocated).get(resource)).max().orElse(0);
  }

  /** The next snapshot, with {@code reservation} held (replacing any under the same key). */
  public Pool hold(Reservation reservation) {
    List<Reservation> next = new ArrayList<>();
    reservations().stream().filter(r -> !r.key().equals(reservation.key())).forEach(next::add);
    if (reservation.count() > 0) {
      next.add(reservation);
    }
    return new Pool(name, nodes(), next);
  }

  /** The nodes of the instances that the request's key holds now, if they have its size. */
  private List<String> heldNodes(Request request) {
    Reservation current = reservation(request.key());
    if (current == null) {
      return List.of();
    }
    return current.placements().stream()
        .takeWhile(p -> p.demand().equals(request.perInstance()))
        .map(Reservation.Placement::node)
        .toList();
  }

  private Map<String, Amounts> allocatedPerNode() {
    return perNode().allocated();
  }

  private PerNode perNode() {
    PerNode known = perNode;
    if (known == null) {
      PerNode sums = new PerNode(new HashMap<>(), new HashMap<>());
      for (Reservation reservation : reservations()) {
        add(sums, reservation, 1);
      }
      known = sums.frozen();
      perNode = known;
    }
    return known;
  }

  /**
   * What the reservations other than the one under {@code excludedKey} hold and place per node, in
   * maps of its own that the caller may change.
   */
  private PerNode othersThan(String excludedKey) {
    PerNode sums = perNode().copy();
    Reservation excluded = reservation(excludedKey);
    if (excluded != null) {
      add(sums, excluded, -1);
    }
    return sums;
  }

  /**
   * What a placed instance holds of its node: its demand and its overhead at the node's ratios (at
   * ratio 1 on a node that has left the pool, whose ratios are no longer known).
   */
  private Amounts held(Reservation.Placement placement) {
    Node node = nodes.get(placement.node());
    Amounts overhead = node == null ? placement.overhead() : node.virtualOf(placement.overhead());
    return placement.demand().plus(overhead);
  }

  private static Amounts larger(Amounts a, Amounts b) {
    return Amounts.of(
        Math.max(a.get(Resource.CPU), b.get(Resource.CPU)),
        Math.max(a.get(Resource.MEMORY), b.get(Resource.MEMORY)),
        Math.max(a.get(Resource.EPHEMERAL_STORAGE), b.get(Resource.EPHEMERAL_STORAGE)));
  }

  private static Amounts smaller(Amounts a, Amounts b) {
    return Amounts.of(
        Math.min(a.get(Resource.CPU), b.get(Resource.CPU)),
        Math.min(a.get(Resource.MEMORY), b.get(Resource.MEMORY)),
        Math.min(a.get(Resource.EPHEMERAL_STORAGE), b.get(Resource.EPHEMERAL_STORAGE)));
  }

  private static Amounts allocatedTotal(Map<String, Amounts> perNode) {
    return perNode.values().stream().reduce(Amounts.ZERO, Amounts::plus);
  }

  private static Amounts free(Node node, Map<String, Amounts> allocated) {
    return node.virtual().minus(allocated.getOrDefault(node.name(), Amounts.ZERO));
  }
}
