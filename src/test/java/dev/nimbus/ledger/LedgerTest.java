package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * A ledger changed from a snapshot holds what a map changed the same way holds, and tells its
 * changes since any ledger before it, whether it still shares that one's snapshot or was copied
 * whole (past the changes it keeps on one).
 */
class LedgerTest {
  @Property(tries = 200)
  void aChangedLedgerHoldsWhatAMapChangedTheSameWayHolds(
      @ForAll @IntRange(min = 1, max = 600) int changes,
      @ForAll @IntRange(min = 1, max = 400) int uids,
      @ForAll long seed) {
    Random random = new Random(seed);
    Map<String, LedgerEntry> expected = new HashMap<>();
    for (int i = 0; i < random.nextInt(50); i++) {
      LedgerEntry entry = entry("u" + random.nextInt(uids), 1 + random.nextInt(2));
      expected.put(entry.uid(), entry);
    }
    Ledger ledger = new Ledger("p", expected);
    for (int i = 0; i < changes; i++) {
      Ledger before = ledger;
      Map<String, LedgerEntry> was = new HashMap<>(expected);
      String uid = "u" + random.nextInt(uids);
      switch (random.nextInt(4)) {
        case 0 -> {
          ledger = ledger.without(Set.of(uid));
          expected.remove(uid);
        }
        case 1 -> {
          // Put back what the ledger held before: no change.
          LedgerEntry held = ledger.entry(uid);
          if (held != null) {
            ledger = ledger.with(held);
          }
        }
        default -> {
          LedgerEntry entry = entry(uid, random.nextInt(3));
          ledger = ledger.with(entry);
          if (entry.count() == 0) {
            expected.remove(uid);
          } else {
            expected.put(uid, entry);
          }
        }
      }
      assertThat(ledger.entries()).isEqualTo(expected);
      assertThat(ledger.entry(uid)).isSameAs(expected.get(uid));
      assertThat(ledger.changes().size()).isLessThanOrEqualTo(256);
      Set<String> differ = new HashSet<>(expected.keySet());
      differ.addAll(was.keySet());
      differ.removeIf(u -> was.get(u) == expected.get(u));
      assertThat(ledger.changedSince(before)).isEqualTo(differ);
    }
  }

  /** {@code uid} with {@code count} instances of one CPU, instance i on node-i. */
  private static LedgerEntry entry(String uid, int count) {
    return LedgerEntries.placed(
        uid, IntStream.range(0, count).mapToObj(i -> "node-" + i).toList(), i -> 1000);
  }
}
