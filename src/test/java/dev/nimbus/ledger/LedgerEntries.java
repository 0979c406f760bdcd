package dev.nimbus.ledger;

import java.time.Instant;
import java.util.List;
import java.util.function.IntToLongFunction;
import java.util.stream.IntStream;

/**
 * Ledger entries for the ledger's tests: a VirtualServer of namespace {@code ns} named as its UID,
 * admitted at the epoch for generation 1, each instance with 1 GiB of memory.
 */
final class LedgerEntries {
  static final long GI = 1L << 30;

  private LedgerEntries() {}

  /** {@code uid} with one instance of {@code millicores} on {@code node}. */
  static LedgerEntry oneInstance(String uid, String node, long millicores) {
    return placed(uid, List.of(node), i -> millicores);
  }

  /** {@code uid} with instance i on {@code nodes[i]}, of {@code millicores(i)}. */
  static LedgerEntry placed(String uid, List<String> nodes, IntToLongFunction millicores) {
    return new LedgerEntry(
        uid,
        "VirtualServer",
        "ns",
        uid,
        Instant.EPOCH.toString(),
        nodes.size(),
        IntStream.range(0, nodes.size())
            .mapToObj(
                i ->
                    new LedgerEntry.Placement(nodes.get(i), millicores.applyAsLong(i), GI, 0, null))
            .toList(),
        1L);
  }
}
