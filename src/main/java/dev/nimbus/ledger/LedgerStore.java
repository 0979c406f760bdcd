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
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
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
  private final Map<String, Group> groups = new ConcurrentHashMap<>();
  private final Map<String, Decoded> decodedByPool = new ConcurrentHashMap<>();
  private volatile SharedIndexInformer<ConfigMap> ledgerInformer;

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
   * Releases the reservation of {@code uid} in {@code pool}, if it holds one; returns whether it
   * did. The one way workloads give their capacity back.
   */
  public boolean release(String pool, String uid) {
    return change(
        pool,
        ledger ->
            ledger.entry(uid) == null
                ? Change.none(false)
                : Change.write(ledger.without(java.util.Set.of(uid)), true));
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
   * respect to every other writer. {@code decide} may run several times and must not have side
   * effects.
   *
   * <p>Changes that arrive while a write is in flight are committed together (group commit): the
   * thread that holds the pool's lock decides every waiting change in arrival order, each on the
   * ledger the previous ones left, and writes once. A lost race re-decides the whole group on the
   * fresh ledger, so no decision is ever made on a state that was not written.
   */
  public <T> T change(String pool, Function<Ledger, Change<T>> decide) {
    Pending<T> mine = new Pending<>(decide);
    Group group = groups.computeIfAbsent(pool, p -> new Group());
    group.waiting.add(mine);
    group.lock.lock();
    try {
      if (!mine.future.isDone()) {
        List<Pending<?>> batch = new ArrayList<>();
        for (Pending<?> next; (next = group.waiting.poll()) != null; ) {
          batch.add(next);
        }
        try {
          commit(pool, batch);
        } catch (RuntimeException e) {
          // A failed read or write (an API error, a ledger that cannot be decoded) answers every
          // change of the batch with the failure: none of them may wait for an answer forever.
          batch.forEach(pending -> pending.future.completeExceptionally(e));
        }
      }
    } finally {
      group.lock.unlock();
    }
    try {
      return mine.future.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException runtime ? runtime : e;
    }
  }

  private void commit(String pool, List<Pending<?>> batch) {
    int attempts = config.ledger().casAttempts();
    for (int attempt = 1; attempt <= attempts; attempt++) {
      ConfigMap current = configMap(pool);
      Ledger read = current == null ? Ledger.empty(pool) : decode(pool, current);
      Ledger ledger = read;
      for (Pending<?> pending : batch) {
        ledger = pending.decide(ledger);
      }
      if (ledger.equals(read) || write(pool, current, ledger)) {
        batch.forEach(Pending::complete);
        return;
      }
      backOff(attempt);
    }
    ContentionException contention = new ContentionException(pool, attempts);
    batch.forEach(pending -> pending.future.completeExceptionally(contention));
  }

  /** The changes of one pool waiting for the next group commit, and the lock that orders them. */
  private static final class Group {
    final ReentrantLock lock = new ReentrantLock(true);
    final Queue<Pending<?>> waiting = new ConcurrentLinkedQueue<>();
  }

  /** One caller's change, its result in the attempt being decided, and its answer. */
  private static final class Pending<T> {
    final Function<Ledger, Change<T>> decide;
    final CompletableFuture<T> future = new CompletableFuture<>();
    private T result;
    private RuntimeException failure;

    Pending(Function<Ledger, Change<T>> decide) {
      this.decide = decide;
    }

    /** Decides on {@code ledger} and returns the ledger to hand to the next change. */
    Ledger decide(Ledger ledger) {
      try {
        Change<T> change = decide.apply(ledger);
        result = change.result();
        failure = null;
        return change.next().orElse(ledger);
      } catch (RuntimeException e) {
        failure = e;
        return ledger;
      }
    }

    void complete() {
      if (failure != null) {
        future.completeExceptionally(failure);
      } else {
        future.complete(result);
      }
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

  public static Ledger decode(String pool, ConfigMap map) {
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
