package dev.nimbus.ledger;

import dev.nimbus.allocation.Reservation;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reservations of one pool as stored: entries by UID, and the nodes whose shard is lost
 * (deleted or unreadable): what they hold is not known, so nothing is decided on them until the
 * pool's controller rebuilds their shards. Immutable; each change returns a new ledger, which
 * {@link LedgerStore} writes with a compare-and-swap.
 */
public record Ledger(String pool, Map<String, LedgerEntry> entries, Set<String> lostNodes) {
  public Ledger {
    entries = Map.copyOf(entries);
    lostNodes = Set.copyOf(lostNodes);
  }

  public Ledger(String pool, Map<String, LedgerEntry> entries) {
    this(pool, entries, Set.of());
  }

  public static Ledger empty(String pool) {
    return new Ledger(pool, Map.of());
  }

  /** This ledger, with the shards of {@code nodes} lost. */
  public Ledger withLostNodes(Set<String> nodes) {
    return new Ledger(pool, entries, nodes);
  }

  public List<Reservation> reservations() {
    return entries.values().stream()
        .sorted(Comparator.comparing(LedgerEntry::uid))
        .map(LedgerEntry::reservation)
        .toList();
  }

  public LedgerEntry entry(String uid) {
    return uid == null ? null : entries.get(uid);
  }

  public Ledger with(LedgerEntry entry) {
    Map<String, LedgerEntry> next = new LinkedHashMap<>(entries);
    if (entry.count() == 0) {
      next.remove(entry.uid());
    } else {
      next.put(entry.uid(), entry);
    }
    return new Ledger(pool, next, lostNodes);
  }

  public Ledger without(Collection<String> uids) {
    Map<String, LedgerEntry> next = new LinkedHashMap<>(entries);
    uids.forEach(next::remove);
    return new Ledger(pool, next, lostNodes);
  }

  public List<LedgerEntry> sortedEntries() {
    List<LedgerEntry> sorted = new ArrayList<>(entries.values());
    sorted.sort(Comparator.comparing(LedgerEntry::uid));
    return sorted;
  }
}
