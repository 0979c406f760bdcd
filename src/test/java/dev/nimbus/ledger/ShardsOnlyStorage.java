package dev.nimbus.ledger;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Storage in memory of a pool that never had a legacy ledger and loses no shard but those found
 * absent when confirmed: what the tests and benchmarks that keep shards themselves have in common.
 * A view is the stored shards unless a subclass makes it lag.
 */
public abstract class ShardsOnlyStorage implements LedgerStorage {
  // Nodes found without a shard when asked to confirm one.
  private final Set<String> absent = ConcurrentHashMap.newKeySet();

  @Override
  public Set<String> lostShards(String pool) {
    if (absent.isEmpty()) {
      return Set.of();
    }
    absent.removeAll(readShards(pool).keySet());
    return Set.copyOf(absent);
  }

  @Override
  public void confirm(String pool, Set<String> nodes) {
    Map<String, Versioned> stored = readShards(pool);
    nodes.stream().filter(node -> !stored.containsKey(node)).forEach(absent::add);
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
