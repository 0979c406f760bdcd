package dev.nimbus.ledger;

import dev.nimbus.allocation.Reservation;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The reservations of one pool as stored: entries by UID, and the nodes whose shard is lost
 * (deleted or unreadable): what they hold is not known, so nothing is decided on them until the
 * pool's controller rebuilds their shards. Immutable; each change returns a new ledger, which
 * {@link LedgerStore} writes with a compare-and-swap.
 *
 * <p>A changed ledger is its {@link #snapshot()} and the {@link #changes()} made on it, and copies
 * only those: the decisions of one commit round each change the ledger the previous one left, and a
 * copy of every entry per decision made a decision's cost grow with the pool's reservations. What a
 * decision derives from a snapshot (the pool's model) it can keep and correct by the changes.
 */
public final class Ledger {
  /** Changes kept on a snapshot before the ledger is copied whole. */
  private static final int MAX_CHANGES = 256;

  private final String pool;
  private final Ledger snapshot;
  private final Map<String, Optional<LedgerEntry>> changes;
  private final Set<String> lostNodes;
  private volatile Map<String, LedgerEntry> entries;

  public Ledger(String pool, Map<String, LedgerEntry> entries, Set<String> lostNodes) {
    this.pool = pool;
    this.snapshot = null;
    this.changes = Map.of();
    this.entries = Map.copyOf(entries);
    this.lostNodes = Set.copyOf(lostNodes);
  }

  public Ledger(String pool, Map<String, LedgerEntry> entries) {
    this(pool, entries, Set.of());
  }

  private Ledger(
      String pool,
      Ledger snapshot,
      Map<String, Optional<LedgerEntry>> changes,
      Set<String> lostNodes) {
    this.pool = pool;
    this.snapshot = snapshot;
    this.changes = changes;
    this.lostNodes = lostNodes;
  }

  public static Ledger empty(String pool) {
    return new Ledger(pool, Map.of());
  }

  public String pool() {
    return pool;
  }

  /** The nodes whose shard is lost. */
  public Set<String> lostNodes() {
    return lostNodes;
  }

  /** The entries by UID; of a changed ledger, assembled once when first asked. */
  public Map<String, LedgerEntry> entries() {
    Map<String, LedgerEntry> known = entries;
    if (known == null) {
      Map<String, LedgerEntry> assembled = new HashMap<>(snapshot.entries());
      changes.forEach(
          (uid, entry) -> {
            if (entry.isPresent()) {
              assembled.put(uid, entry.get());
            } else {
              assembled.remove(uid);
            }
          });
      known = Map.copyOf(assembled);
      entries = known;
    }
    return known;
  }

  /**
   * The ledger this one was changed from, with every entry copied: itself when it is one. Two
   * ledgers with the same snapshot differ only by their {@link #changes()}.
   */
  public Ledger snapshot() {
    return snapshot == null ? this : snapshot;
  }

  /** The entries changed since {@link #snapshot()}, by UID: empty where one was removed. */
  public Map<String, Optional<LedgerEntry>> changes() {
    return changes;
  }

  /** This ledger, with the shards of {@code nodes} lost. */
  public Ledger withLostNodes(Set<String> nodes) {
    return snapshot == null
        ? new Ledger(pool, entries, nodes)
        : new Ledger(pool, snapshot, changes, Set.copyOf(nodes));
  }

  /** The reservations, by UID order. */
  public List<Reservation> reservations() {
    return sortedEntries().stream().map(LedgerEntry::reservation).toList();
  }

  public LedgerEntry entry(String uid) {
    if (uid == null) {
      return null;
    }
    Optional<LedgerEntry> changed = changes.get(uid);
    if (changed != null) {
      return changed.orElse(null);
    }
    return snapshot == null ? entries.get(uid) : snapshot.entry(uid);
  }

  /** This ledger with {@code entry} put (or, when it holds no instance, its UID removed). */
  public Ledger with(LedgerEntry entry) {
    return changed(Map.of(entry.uid(), Optional.of(entry).filter(e -> e.count() > 0)));
  }

  public Ledger without(Collection<String> uids) {
    Map<String, Optional<LedgerEntry>> removed = new HashMap<>();
    uids.forEach(uid -> removed.put(uid, Optional.empty()));
    return changed(removed);
  }

  private Ledger changed(Map<String, Optional<LedgerEntry>> more) {
    Ledger base = snapshot();
    Map<String, Optional<LedgerEntry>> next = new HashMap<>(changes);
    more.forEach(
        (uid, entry) -> {
          // A change back to what the snapshot holds (the same entry, or none) is no change.
          if (base.entries().get(uid) == entry.orElse(null)) {
            next.remove(uid);
          } else {
            next.put(uid, entry);
          }
        });
    if (next.size() > MAX_CHANGES) {
      Ledger whole = new Ledger(pool, base, Map.copyOf(next), lostNodes);
      return new Ledger(pool, whole.entries(), lostNodes);
    }
    return new Ledger(pool, base, Map.copyOf(next), lostNodes);
  }

  /**
   * The UIDs whose entries differ between {@code before} and this ledger. Unchanged entries are the
   * same objects (a change keeps the others' references), so a ledger changed from the same
   * snapshot as {@code before} is compared by its changes alone.
   */
  public Set<String> changedSince(Ledger before) {
    if (before == this) {
      return Set.of();
    }
    Set<String> changed = new HashSet<>();
    if (before.snapshot() == snapshot()) {
      Set<String> uids = new HashSet<>(changes.keySet());
      uids.addAll(before.changes.keySet());
      for (String uid : uids) {
        if (before.entry(uid) != entry(uid)) {
          changed.add(uid);
        }
      }
      return changed;
    }
    Map<String, LedgerEntry> after = entries();
    Map<String, LedgerEntry> was = before.entries();
    after.forEach(
        (uid, entry) -> {
          if (was.get(uid) != entry) {
            changed.add(uid);
          }
        });
    was.keySet().stream().filter(uid -> !after.containsKey(uid)).forEach(changed::add);
    return changed;
  }

  public List<LedgerEntry> sortedEntries() {
    List<LedgerEntry> sorted = new ArrayList<>(entries().values());
    sorted.sort(Comparator.comparing(LedgerEntry::uid));
    return sorted;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Ledger that
        && pool.equals(that.pool)
        && entries().equals(that.entries())
        && lostNodes.equals(that.lostNodes);
  }

  @Override
  public int hashCode() {
    return Objects.hash(pool, entries(), lostNodes);
  }

  @Override
  public String toString() {
    return "Ledger[pool=" + pool + ", entries=" + entries() + ", lostNodes=" + lostNodes + "]";
  }
}
