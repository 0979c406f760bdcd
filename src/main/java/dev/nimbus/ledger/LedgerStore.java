package dev.nimbus.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.nimbus.config.NimbusConfig;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Reads and changes the ledger of a pool, a ConfigMap in the operator's namespace, with one
 * compare-and-swap per change: read, decide, write with the read resourceVersion, and on a conflict
 * read and decide again. Every replica of the operator may change the same ledger at the same
 * moment; the API server lets exactly one write of a version through, so no two decisions are ever
 * made on the same state. A lock per pool inside one replica only spares it from racing itself;
 * correctness never rests on it.
 */
@ApplicationScoped
public class LedgerStore {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  private final KubernetesClient client;
  private final NimbusConfig config;
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();

  public LedgerStore(KubernetesClient client, NimbusConfig config) {
    this.client = client;
    this.config = config;
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

  /** Thrown when every attempt lost its race; the caller denies and the client may retry. */
  public static final class ContentionException extends RuntimeException {
    public ContentionException(String pool, int attempts) {
      super(
          "the ledger of pool \""
              + pool
              + "\" changed under "
              + attempts
              + " attempts in a row; retry the request");
    }
  }

  /** The ledger as stored now. */
  public Ledger read(String pool) {
    ConfigMap map = configMap(pool);
    return map == null ? Ledger.empty(pool) : decode(pool, map);
  }

  /**
   * Applies {@code decide} to the current ledger and writes what it returns, atomically with
   * respect to every other writer. {@code decide} may run several times and must not have side
   * effects.
   */
  public <T> T change(String pool, Function<Ledger, Change<T>> decide) {
    ReentrantLock lock = locks.computeIfAbsent(pool, p -> new ReentrantLock(true));
    lock.lock();
    try {
      int attempts = config.ledger().casAttempts();
      for (int attempt = 1; attempt <= attempts; attempt++) {
        ConfigMap current = configMap(pool);
        Ledger ledger = current == null ? Ledger.empty(pool) : decode(pool, current);
        Change<T> change = decide.apply(ledger);
        if (change.next().isEmpty() || change.next().get().equals(ledger)) {
          return change.result();
        }
        if (write(pool, current, change.next().get())) {
          return change.result();
        }
        backOff(attempt);
      }
      throw new ContentionException(pool, attempts);
    } finally {
      lock.unlock();
    }
  }

  private boolean write(String pool, ConfigMap current, Ledger next) {
    String data = encode(next);
    try {
      if (current == null) {
        client
            .configMaps()
            .inNamespace(config.namespace())
            .resource(
                new ConfigMapBuilder()
                    .withNewMetadata()
                    .withName(Names.ledger(pool))
                    .withNamespace(config.namespace())
                    .addToLabels(Names.MANAGED_BY, "nimbus")
                    .addToLabels(Names.POOL_LABEL, pool)
                    .endMetadata()
                    .addToData(Names.LEDGER_KEY, data)
                    .build())
            .create();
      } else {
        ConfigMap updated =
            new ConfigMapBuilder(current).withData(Map.of(Names.LEDGER_KEY, data)).build();
        // update() sends the resourceVersion read above: the API server refuses it with 409
        // Conflict if anyone wrote in between. That refusal is the compare-and-swap.
        client.configMaps().inNamespace(config.namespace()).resource(updated).update();
      }
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return false;
      }
      throw e;
    }
  }

  private ConfigMap configMap(String pool) {
    return client.configMaps().inNamespace(config.namespace()).withName(Names.ledger(pool)).get();
  }

  private static void backOff(int attempt) {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(1, 5L * Math.min(attempt, 10)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while retrying a ledger write", e);
    }
  }

  static Ledger decode(String pool, ConfigMap map) {
    String data = map.getData() == null ? null : map.getData().get(Names.LEDGER_KEY);
    if (data == null || data.isBlank()) {
      return Ledger.empty(pool);
    }
    try {
      return new Ledger(
          pool, JSON.readValue(data, new TypeReference<Map<String, LedgerEntry>>() {}));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("the ledger of pool \"" + pool + "\" is not valid JSON", e);
    }
  }

  static String encode(Ledger ledger) {
    try {
      return JSON.writeValueAsString(new TreeMap<>(ledger.entries()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
