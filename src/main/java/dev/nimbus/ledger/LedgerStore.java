package dev.nimbus.ledger;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.metrics.NimbusMetrics;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Reads and changes the ledger of a pool, one ConfigMap per node in the operator's namespace
 * ({@link ConfigMapLedgerStorage}), with one compare-and-swap per shard a change writes ({@link
 * LedgerCommits}): read, decide, write each changed shard with the resourceVersion it was decided
 * on, and on a conflict decide again. Every replica of the operator may change the same ledger at
 * the same moment; the API server lets exactly one write of a shard's version through, so no two
 * decisions about a node are ever made on the same state of it.
 */
@ApplicationScoped
public class LedgerStore {
  private final ConfigMapLedgerStorage storage;
  private final LedgerCommits commits;
  private final NimbusMetrics metrics;

  public LedgerStore(
      KubernetesClient client, NimbusConfig config, Inventory inventory, NimbusMetrics metrics) {
    this.metrics = metrics;
    this.storage =
        new ConfigMapLedgerStorage(client, config.namespace(), config.ledger().decisionTimeout());
    this.commits =
        new LedgerCommits(
            storage,
            config.ledger().casAttempts(),
            config.ledger().decisionTimeout(),
            inventory::nodesPlacedOn);
  }

  /**
   * A reservation's time, to decide it with now: on the API server's clock (a time it has not
   * passed yet) once this replica has heard the API server, on its own before.
   */
  public ReservedAt reservedNow() {
    return storage
        .clock()
        .latest()
        .map(ReservedAt::onApiServer)
        .orElseGet(() -> ReservedAt.onThisReplica(Instant.now()));
  }

  /**
   * How long ago {@code entry}'s reservation was decided: on the API server's clock when the entry
   * records a time on it (from then to a time the API server has certainly reached, so never more
   * than it is, whichever replica decided and whichever asks); else {@code seen}, how long the
   * asking replica has seen it, on its own monotonic clock.
   */
  public Duration ageOf(LedgerEntry entry, Duration seen) {
    return ReservedAt.apiServerTime(entry.reservedAt())
        .flatMap(at -> storage.clock().earliest().map(now -> Duration.between(at, now)))
        .orElse(seen);
  }

  /** What a change decided: the ledger to write (empty: write nothing) and a result to return. */
  public record Change<T>(Optional<Ledger> next, T result) {
    public static <T> Change<T> write(Ledger next, T result) {
      return new Change<>(Optional.of(next), result);
    }

    public static <T> Change<T> none(T result) {
      return new Change<>(Optional.empty(), result);
    }
  }

  /**
   * Thrown when a change could not be committed in time: every attempt lost its race, or the ledger
   * was busy past the decision timeout. The caller denies, and the client may retry.
   */
  public static final class ContentionException extends RuntimeException {
    private ContentionException(String message) {
      super(message);
    }

    static ContentionException lostRaces(String pool, int attempts) {
      return retry(pool, "changed under " + attempts + " attempts in a row");
    }

    static ContentionException busy(String pool, Duration timeout) {
      return retry(
          pool,
          "could not take this change in time to write it within "
              + timeout.toMillis()
              + " ms (other changes or the API server are slow)");
    }

    static ContentionException callerStopsWaiting(String pool, Duration waits) {
      return retry(
          pool,
          "could not take this change before the API server stops waiting for the answer ("
              + waits.toMillis()
              + " ms after the review arrived: four fifths of the review's timeout, which is"
              + " shorter when the request has a short timeout of its own)");
    }

    private static ContentionException retry(String pool, String what) {
      return new ContentionException(
          "the ledger of pool \"" + pool + "\" " + what + "; retry the request");
    }
  }

  /** The ledger as stored now: a list of every shard of the pool. */
  public Ledger read(String pool) {
    metrics.ledgerRead();
    return commits.read(pool);
  }

  /**
   * Releases the reservation of {@code uid} in {@code pool}, if it holds one; returns whether it
   * did. The one way workloads give their capacity back.
   */
  public boolean release(String pool, String uid) {
    return change(pool, ledger -> releasing(ledger, uid));
  }

  /** The change that releases {@code uid}'s reservation from {@code ledger}, if it holds one. */
  static Change<Boolean> releasing(Ledger ledger, String uid) {
    return ledger.entry(uid) == null
        ? Change.none(false)
        : Change.write(ledger.without(Set.of(uid)), true);
  }

  /**
   * The entry of {@code uid} in the ledger of {@code pool}, from what this replica knows when it is
   * there, else as stored now: an entry the watch has not delivered yet is still found. Where it is
   * not found, this reads every shard of the pool, so controllers ask it only where a workload may
   * hold a reservation their replica has not seen (before they make one for it, before a deletion
   * gives one back), never at every reconcile: those read {@link #recent}.
   */
  public LedgerEntry entry(String pool, String uid) {
    LedgerEntry cached = recent(pool).entry(uid);
    return cached != null ? cached : read(pool).entry(uid);
  }

  /**
   * The ledger of {@code pool} as this replica knows it: its own writes at once, other replicas'
   * once the watch delivers them. For status and metrics, which follow the ledger's changes anyway;
   * decisions read with {@link #change}.
   */
  public Ledger recent(String pool) {
    return commits.recent(pool);
  }

  /**
   * Writes anew the lost shard of {@code node} in {@code pool} with the parts on it of {@code
   * entries}; see {@link LedgerCommits#rebuild}.
   */
  public boolean rebuild(String pool, String node, Collection<LedgerEntry> entries) {
    return commits.rebuild(pool, node, entries);
  }

  /**
   * Calls {@code listener} with each shard of any pool as the watch delivers it, once {@link
   * #recent} and {@link #entry} know it; see {@link ConfigMapLedgerStorage#onShardDelivered}.
   * Returns what stops the calls.
   */
  public Runnable onShardDelivered(Consumer<ConfigMap> listener) {
    return storage.onShardDelivered(listener);
  }

  void stop(@Observes ShutdownEvent event) {
    storage.close();
  }

  /**
   * Applies {@code decide} to the current ledger and writes what it returns, atomically with
   * respect to every other writer; see {@link LedgerCommits#change}.
   */
  public <T> T change(String pool, Function<Ledger, Change<T>> decide) {
    return commits.change(pool, decide);
  }

  /**
   * {@link #change(String, Function)} for a change asked for at {@code asked}, whose caller waits
   * until {@code callerWaitsUntil} ({@link System#nanoTime()}); see {@link
   * LedgerCommits#change(String, long, long, Function)}.
   */
  public <T> T change(
      String pool, long asked, long callerWaitsUntil, Function<Ledger, Change<T>> decide) {
    return commits.change(pool, asked, callerWaitsUntil, decide);
  }
}
