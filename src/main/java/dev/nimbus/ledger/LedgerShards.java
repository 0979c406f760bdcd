package dev.nimbus.ledger;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.nimbus.allocation.Amounts;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A pool's ledger kept as one document per node, its shard: what each reservation holds on that
 * node, by the instances' indexes, and who holds it. A decision writes the shards of the nodes it
 * places on or takes from, and nothing else, so what it writes follows the change and not the
 * pool's size; and a shard holds no more than its node can host.
 *
 * <p>A pool's ledger is the union of its shards: an entry's instances are gathered from every shard
 * that holds a part of it, in index order, and its other fields come from the part with the newest
 * generation. While a change of several shards is half written, an instance may be on two nodes or
 * on none for an instant; the ledger shows exactly what the shards hold, so every node's capacity
 * is judged on what is stored on it.
 */
public final class LedgerShards {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  private LedgerShards() {}

  /**
   * The reservations on one node, by the UID that holds them, and whether this shard holds its
   * node's part of the pool's retired legacy ledger (absent: it never took one).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Shard(String node, Map<String, Part> reservations, Boolean legacyCopied) {
    public Shard {
      reservations = Map.copyOf(reservations);
    }

    public Shard(String node, Map<String, Part> reservations) {
      this(node, reservations, null);
    }

    public static Shard empty(String node) {
      return new Shard(node, Map.of());
    }

    public boolean holdsLegacy() {
      return Boolean.TRUE.equals(legacyCopied);
    }
  }

  /**
   * One reservation's instances on one node, by index, what the entry says of its holder, and every
   * node the entry held instances on when this part was written: a shard known at a version that
   * does not show its part yet is told from one that holds none.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Part(
      String kind,
      String namespace,
      String name,
      String reservedAt,
      int desired,
      Long generation,
      Map<Integer, Instance> instances,
      List<String> nodes) {
    public Part {
      // A pool's shards hold thousands of parts of a few kinds, namespaces and nodes: each such
      // value is held once, not once per part decoded.
      kind = kind == null ? null : kind.intern();
      namespace = namespace == null ? null : namespace.intern();
      nodes = nodes == null ? List.of() : nodes.stream().map(String::intern).toList();
    }

    /** Whether this part holds no more than {@code other} of any resource on its node. */
    boolean within(Part other) {
      return held().fitsIn(other.held());
    }

    private Amounts held() {
      return instances.values().stream().map(Instance::held).reduce(Amounts.ZERO, Amounts::plus);
    }
  }

  /** What one instance holds: millicores and bytes, and its runtime's overhead (null for none). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Instance(
      long cpu, long memory, long ephemeralStorage, LedgerEntry.Overhead overhead) {
    /** Its demand and its overhead together. */
    Amounts held() {
      Amounts demand = Amounts.of(cpu, memory, ephemeralStorage);
      return overhead == null ? demand : demand.plus(overhead.amounts());
    }
  }

  public static Shard decode(String node, String document) {
    if (document == null || document.isBlank()) {
      return Shard.empty(node);
    }
    try {
      Shard shard = JSON.readValue(document, Shard.class);
      if (!node.equals(shard.node())) {
        throw new IllegalStateException(
            "the ledger shard of node \"" + node + "\" names node \"" + shard.node() + "\"");
      }
      return shard;
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "the ledger shard of node \"" + node + "\" is not valid JSON", e);
    }
  }

  public static String encode(Shard shard) {
    try {
      return JSON.writeValueAsString(shard);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The ledger of {@code pool} that {@code shards} hold together. */
  public static Ledger assemble(String pool, Collection<Shard> shards) {
    Map<String, List<Held>> heldByUid = new LinkedHashMap<>();
    for (Shard shard : shards) {
      shard
          .reservations()
          .forEach(
              (uid, part) ->
                  heldByUid
                      .computeIfAbsent(uid, u -> new ArrayList<>())
                      .add(new Held(shard.node(), part)));
    }
    Map<String, LedgerEntry> entries = new LinkedHashMap<>();
    heldByUid.forEach((uid, held) -> entries.put(uid, entry(uid, held)));
    return new Ledger(pool, entries);
  }

  private record Held(String node, Part part) {}

  /** The entry of {@code uid} that {@code parts} (by node) hold together; null for none. */
  public static LedgerEntry entry(String uid, Map<String, Part> parts) {
    List<Held> held = new ArrayList<>();
    new TreeMap<>(parts).forEach((node, part) -> held.add(new Held(node, part)));
    return held.isEmpty() ? null : entry(uid, held);
  }

  private static LedgerEntry entry(String uid, List<Held> held) {
    record Indexed(int index, String node, Instance instance) {}
    List<Indexed> instances = new ArrayList<>();
    Part newest = null;
    String newestNode = null;
    for (Held h : held) {
      h.part()
          .instances()
          .forEach((index, instance) -> instances.add(new Indexed(index, h.node(), instance)));
      if (newest == null
          || generation(h.part()) > generation(newest)
          || (generation(h.part()) == generation(newest) && h.node().compareTo(newestNode) < 0)) {
        newest = h.part();
        newestNode = h.node();
      }
    }
    instances.sort(Comparator.comparingInt(Indexed::index).thenComparing(Indexed::node));
    return new LedgerEntry(
        uid,
        newest.kind(),
        newest.namespace(),
        newest.name(),
        newest.reservedAt(),
        newest.desired(),
        instances.stream()
            .map(
                i ->
                    new LedgerEntry.Placement(
                        i.node(),
                        i.instance().cpu(),
                        i.instance().memory(),
                        i.instance().ephemeralStorage(),
                        i.instance().overhead()))
            .toList(),
        newest.generation());
  }

  private static long generation(Part part) {
    return part.generation() == null ? Long.MIN_VALUE : part.generation();
  }

  /** The parts of {@code entry} by node: instance {@code i} of its placements has index i. */
  public static Map<String, Part> parts(LedgerEntry entry) {
    Map<String, Map<Integer, Instance>> instancesByNode = new LinkedHashMap<>();
    List<LedgerEntry.Placement> placements = entry.placements();
    for (int index = 0; index < placements.size(); index++) {
      LedgerEntry.Placement p = placements.get(index);
      instancesByNode
          .computeIfAbsent(p.node(), n -> new TreeMap<>())
          .put(index, new Instance(p.cpu(), p.memory(), p.ephemeralStorage(), p.overhead()));
    }
    List<String> nodes = List.copyOf(new TreeSet<>(instancesByNode.keySet()));
    Map<String, Part> parts = new LinkedHashMap<>();
    instancesByNode.forEach(
        (node, instances) ->
            parts.put(
                node,
                new Part(
                    entry.kind(),
                    entry.namespace(),
                    entry.name(),
                    entry.reservedAt(),
                    entry.desired(),
                    entry.generation(),
                    instances,
                    nodes)));
    return parts;
  }

  /**
   * {@code shard} with the parts of the entries of {@code uids} as {@code next} holds them: a part
   * of a UID that {@code next} no longer holds on this node is removed.
   */
  public static Shard withEntries(Shard shard, Collection<String> uids, Ledger next) {
    Map<String, Part> reservations = new LinkedHashMap<>(shard.reservations());
    for (String uid : uids) {
      reservations.remove(uid);
      LedgerEntry entry = next.entry(uid);
      if (entry != null) {
        Part part = parts(entry).get(shard.node());
        if (part != null) {
          reservations.put(uid, part);
        }
      }
    }
    return new Shard(shard.node(), reservations, shard.legacyCopied());
  }

  /**
   * {@code shard} with its node's part of each entry of the retired legacy ledger {@code legacy}
   * that it does not hold yet, marked as holding them: a shard is copied into once, so an entry
   * released since is never brought back.
   */
  public static Shard withLegacy(Shard shard, Ledger legacy) {
    Map<String, Part> reservations = new LinkedHashMap<>(shard.reservations());
    for (LedgerEntry entry : legacy.entries().values()) {
      Part part = parts(entry).get(shard.node());
      if (part != null) {
        reservations.putIfAbsent(entry.uid(), part);
      }
    }
    return new Shard(shard.node(), reservations, true);
  }
}
