package dev.nimbus.ledger;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * How long this replica has been seeing something, on its own monotonic clock: from the first time
 * it was asked about it. A reservation's age judged this way is never more than its true age,
 * whatever the clocks of the replica that wrote it or of the nodes say, so a grace period measured
 * with it never ends early; a replica that just took over starts counting afresh, later still.
 */
public final class Sightings<K> {
  private final Map<K, Long> since = new ConcurrentHashMap<>();

  /** How long {@code key} has been seen; zero the first time. */
  public Duration seenFor(K key) {
    long now = System.nanoTime();
    return Duration.ofNanos(now - since.computeIfAbsent(key, k -> now));
  }

  /** Forgets {@code key}: it is accounted for, or gone. */
  public void forget(K key) {
    since.remove(key);
  }

  /** Forgets every key but {@code current}. */
  public void retainOnly(Collection<K> current) {
    since.keySet().retainAll(current);
  }
}
