package dev.nimbus.ledger;

import dev.nimbus.allocation.Reservation;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reservations of one pool as stored: entries by UID. Immutable; each change returns a new
 * ledger, which {@link LedgerStore} writes with a compare-and-swap.
 */
public record Ledger(String pool, Map<String, LedgerEntry> entries) {
  public Ledger {
    entries = Map.copyOf(entries);
  }

  public static Ledger empty(String pool) {
    return new Ledger(pool, Map.of());
  }

  public List<Reservation> reservations() {
    return entries.values().stream()
        .sorted(Comparator.comparing(LedgerEntry::uid))
        .map(LedgerEntry::reservation)
        .toList();
  }

  public LedgerEntry entry(String uid) {
    return entries.get(uid);
  }

  public Ledger with(LedgerEntry entry) {
    Map<String, LedgerEntry> next = new LinkedHashMap<>(entries);
    if (entry.count() == 0) {
      next.remove(entry.uid());
    } else {
      next.put(entry.uid(), entry);
    }
    return new Ledger(pool, next);
  }

  public Ledger without(Collection<String> uids) {
    Map<String, LedgerEntry> next = new LinkedHashMap<>(entries);
    uids.forEach(next::remove);
    return new Ledger(pool, next);
  }

  public List<LedgerEntry> sortedEntries() {
    List<LedgerEntry> sorted = new ArrayList<>(entries.values());
    sorted.sort(Comparator.comparing(LedgerEntry::uid));
    return sorted;
  }
}
