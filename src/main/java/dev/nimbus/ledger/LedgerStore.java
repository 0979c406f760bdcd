package dev.nimbus.ledger;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Reads and changes the ledger of a pool, a ConfigMap in the operator's namespace ({@link
 * ConfigMapLedgerStorage}), with one compare-and-swap per change ({@link LedgerCommits}): read,
 * decide, write with the read resourceVersion, and on a conflict read and decide again. Every
 * replica of the operator may change the same ledger at the same moment; the API server lets
 * exactly one write of a version through, so no two decisions are ever made on the same state.
 * Controllers read entries from a watch of the ledgers instead.
 */
@ApplicationScoped
public class LedgerStore {
  private final KubernetesClient client;
  private final NimbusConfig config;
  private final LedgerCommits commits;
  private final Map<String, Decoded> decodedByPool = new ConcurrentHashMap<>();
  private volatile SharedIndexInformer<ConfigMap> ledgerInformer;

  public LedgerStore(KubernetesClient client, NimbusConfig config, ConfigMapLedgerStorage storage) {
    this.client = client;
    this.config = config;
    this.commits =
        new LedgerCommits(
            storage, config.ledger().casAttempts(), config.ledger().decisionTimeout());
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
      return new ContentionException(
          "the ledger of pool \""
              + pool
              + "\" changed under "
              + attempts
              + " attempts in a row; retry the request");
    }

    static ContentionException busy(String pool, java.time.Duration timeout) {
      return new ContentionException(
          "the ledger of pool \""
              + pool
              + "\" could not take this change within "
              + timeout.toMillis()
              + " ms (other changes or the API server are slow); retry the request");
    }
  }

  /** The ledger as stored now. */
  public Ledger read(String pool) {
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
        : Change.write(ledger.without(java.util.Set.of(uid)), true);
  }

  /**
   * The entry of {@code uid} in the ledger of {@code pool}, from a watch of the ledgers when it is
   * there, else as stored now. Controllers ask this on every reconcile: a cached ledger, decoded
   * once per version, spares the API server a read of the whole ledger each time, and an entry the
   * watch has not delivered yet is still found.
   */
  public LedgerEntry entry(String pool, String uid) {
    LedgerEntry cached = recent(pool).entry(uid);
    return cached != null ? cached : read(pool).entry(uid);
  }

  /**
   * The ledger of {@code pool} as the watch of the ledgers last delivered it, decoded once per
   * version: for status and metrics, which follow the ledger's changes anyway. Decisions read with
   * {@link #change}.
   */
  public Ledger recent(String pool) {
    ConfigMap map =
        watchedLedgers().getStore().getByKey(config.namespace() + "/" + Names.ledger(pool));
    if (map == null) {
      return Ledger.empty(pool);
    }
    String version = map.getMetadata().getResourceVersion();
    Decoded decoded = decodedByPool.get(pool);
    if (decoded == null || !decoded.version().equals(version)) {
      decoded = new Decoded(version, decode(pool, map));
      decodedByPool.put(pool, decoded);
    }
    return decoded.ledger();
  }

  private record Decoded(String version, Ledger ledger) {}

  private SharedIndexInformer<ConfigMap> watchedLedgers() {
    SharedIndexInformer<ConfigMap> informer = ledgerInformer;
    if (informer == null) {
      synchronized (this) {
        if (ledgerInformer == null) {
          ledgerInformer =
              client
                  .configMaps()
                  .inNamespace(config.namespace())
                  .withLabel(Names.POOL_LABEL)
                  .inform();
        }
        informer = ledgerInformer;
      }
    }
    return informer;
  }

  void stop(@Observes ShutdownEvent event) {
    if (ledgerInformer != null) {
      ledgerInformer.stop();
    }
  }

  /**
   * Applies {@code decide} to the current ledger and writes what it returns, atomically with
   * respect to every other writer; see {@link LedgerCommits#change}.
   */
  public <T> T change(String pool, Function<Ledger, Change<T>> decide) {
    return commits.change(pool, decide);
  }

  /** The ledger that a ledger ConfigMap holds. */
  public static Ledger decode(String pool, ConfigMap map) {
    return LedgerCodec.decode(pool, ConfigMapLedgerStorage.document(map));
  }
}
