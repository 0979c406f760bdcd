package dev.nimbus.ledger;

import java.util.Map;
import java.util.Set;

/**
 * Storage in memory of a pool that never had a legacy ledger and loses no shard: what the tests and
 * benchmarks that keep shards themselves have in common. A view is the stored shards unless a
 * subclass makes it lag.
 */
public abstract class ShardsOnlyStorage implements LedgerStorage {
  @Override
  public Set<String> lostShards(String pool) {
    return Set.of();
  }

  @Override
  public Map<String, Versioned> readShards(String pool) {
    return shards(pool);
  }

  @Override
  public boolean mayHaveLegacy(String pool) {
    return false;
  }

  @Override
  public Legacy legacy(String pool) {
    return null;
  }

  @Override
  public boolean retireLegacy(String pool, Legacy current) {
    throw new UnsupportedOperationException("no legacy ledger");
  }

  @Override
  public void legacyCopied(String pool) {
    throw new UnsupportedOperationException("no legacy ledger");
  }
}
