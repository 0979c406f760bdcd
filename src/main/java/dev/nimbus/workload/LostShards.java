package dev.nimbus.workload;

import dev.nimbus.ledger.LedgerStore;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;

/**
 * Whether a workload has instances on a node whose ledger shard is lost: its entry then lacks what
 * that shard held, and acting on it would stop instances the pool still runs. The controllers leave
 * such a workload as it is until the pool's controller has rebuilt the shard.
 */
public final class LostShards {
  /** How often a workload left as it is looks again. */
  public static final Duration RECHECK = Duration.ofSeconds(5);

  private LostShards() {}

  /** Whether any of {@code nodes}, where a workload of {@code pool} runs, lost its shard. */
  public static boolean onLost(LedgerStore ledgers, String pool, Collection<String> nodes) {
    Set<String> lost = ledgers.recent(pool).lostNodes();
    return !lost.isEmpty() && nodes.stream().anyMatch(lost::contains);
  }
}
