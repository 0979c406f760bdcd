package dev.nimbus.ledger;

import dev.nimbus.inventory.SlimItemStore;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.PagedLists;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.impl.KubernetesClientImpl;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * The ledgers as ConfigMaps in the operator's namespace: one shard per pool and node, {@code
 * nimbus-ledger.<pool>.<node digest>}, labelled with their pool and node digest. A write sends the
 * resourceVersion that was read; the API server refuses it with 409 Conflict if anyone wrote in
 * between. That refusal is the compare-and-swap.
 *
 * <p>Shards are read from a watch of them, with this replica's own writes and the shards it found
 * newer after a conflict laid over it until the watch delivers them; resourceVersions are compared
 * as numbers for that only (the API server's are etcd revisions), and a version that is not a
 * number stays laid over until the watch delivers any event of its object.
 *
 * <p>Pools admitted by an earlier Nimbus have a legacy ledger, {@code nimbus-ledger-<pool>}, which
 * is retired by rewriting it, never deleted: its reservations move to another key and the key an
 * earlier Nimbus reads holds a sentence, so that a replica of it still running fails its admissions
 * instead of deciding on an empty ledger.
 */
public class ConfigMapLedgerStorage implements LedgerStorage, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ConfigMapLedgerStorage.class);
  // How often the first list of the shards is made before the replica gives up.
  private static final int FIRST_LIST_ATTEMPTS = 3;
  private static final String BY_POOL = "pool";
  private static final int CONFIRMED_PER_LIST = 100;

  // The API server's answers older than this are not judged on without asking it again.
  private static final Duration CLOCK_PROBE_INTERVAL = Duration.ofSeconds(30);

  private final KubernetesClient client;
  private final ApiServerClock clock;
  private final String namespace;
  private final SharedIndexInformer<ConfigMap> watched;
  // By name: a shard newer than the watch has delivered, or empty when it is known to be gone.
  private final Map<String, Optional<ConfigMap>> newer = new ConcurrentHashMap<>();
  // By pool: the nodes whose shard was deleted, until it is created again.
  private final Map<String, Set<String>> lost = new ConcurrentHashMap<>();
  private final List<Consumer<ConfigMap>> deliveredListeners = new CopyOnWriteArrayList<>();

  /**
   * The ledgers in {@code namespace}, each call to the API server bounded by half of {@code
   * decisionTimeout}. Starts a watch of them and returns once it has listed them.
   */
  public ConfigMapLedgerStorage(
      KubernetesClient client, String namespace, Duration decisionTimeout) {
    // A commit reads and writes once per attempt within the decision timeout: each call gets half
    // of it, and is not retried by the client (the commit retries, and knows its deadline). The
    // client takes a call's timeout from its configuration and its retries from its HTTP client's
    // tag: both are given the configuration's one RequestConfig.
    int perCall = (int) LedgerStorage.callTimeout(decisionTimeout).toMillis();
    Config calls =
        new ConfigBuilder(client.getConfiguration())
            .withRequestTimeout(perCall)
            .withRequestRetryBackoffLimit(0)
            .build();
    this.clock =
        new ApiServerClock(System::nanoTime, this::askTheApiServersTime, CLOCK_PROBE_INTERVAL);
    // The client's own connections and settings, with every answer's time told to the clock.
    this.client =
        new KubernetesClientImpl(
            client
                .getHttpClient()
                .newBuilder()
                .tag(calls.getRequestConfig())
                .addOrReplaceInterceptor(ApiServerTimes.NAME, new ApiServerTimes(clock))
                .build(),
            calls,
            () -> Runnable::run,
            client.getKubernetesSerialization());
    this.namespace = namespace;
    this.watched = startWatching(client, namespace);
    // So that the first reservation decided is stamped on the API server's clock already.
    askTheApiServersTime();
  }

  /**
   * Lists and watches the pool's shards in {@code namespace}, once the first list is complete. A
   * first list that fails (the API server closed the connection, as one that is still starting or
   * loaded does) is made again, a few times: a replica that stopped for it would leave its pods'
   * restarts to finish the job, and a local run would end.
   */
  private SharedIndexInformer<ConfigMap> startWatching(KubernetesClient client, String namespace) {
    for (int attempt = 1; ; attempt++) {
      SharedIndexInformer<ConfigMap> informer =
          client
              .configMaps()
              .inNamespace(namespace)
              .withLabel(Names.POOL_LABEL)
              .withLimit(PagedLists.INFORMER_PAGE)
              .runnableInformer(0)
              // Without the shards' managedFields, a few KiB each, written at every decision.
              .itemStore(new SlimItemStore<>());
      informer.addIndexers(
          Map.of(BY_POOL, map -> List.of(map.getMetadata().getLabels().get(Names.POOL_LABEL))));
      informer.addEventHandler(new Delivered());
      try {
        informer.start().toCompletableFuture().get(60, TimeUnit.SECONDS);
        return informer;
      } catch (InterruptedException e) {
        informer.stop();
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while listing the ledgers", e);
      } catch (ExecutionException | TimeoutException e) {
        informer.stop();
        if (attempt == FIRST_LIST_ATTEMPTS) {
          throw new IllegalStateException("could not list the ledgers in " + namespace, e);
        }
        LOG.warnf(
            "Could not list the ledgers in %s (attempt %d of %d), trying again: %s",
            namespace, attempt, FIRST_LIST_ATTEMPTS, e.getCause() == null ? e : e.getCause());
        try {
          Thread.sleep(1_000L * attempt);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while listing the ledgers", interrupted);
        }
      }
    }
  }

  /** The API server's clock, as the answers to this storage's calls bound it. */
  public ApiServerClock clock() {
    return clock;
  }

  private void askTheApiServersTime() {
    try {
      // Readable by every client (the API server's public information): its answer has a Date.
      client.getKubernetesVersion();
    } catch (KubernetesClientException e) {
      LOG.debugf("Could not ask the API server's time: %s", e.getMessage());
    }
  }

  @Override
  public void close() {
    watched.stop();
  }

  @Override
  public Map<String, Versioned> shards(String pool) {
    Map<String, ConfigMap> byName = new HashMap<>();
    for (ConfigMap map : watched.getIndexer().byIndex(BY_POOL, pool)) {
      if (isShard(map)) {
        byName.put(map.getMetadata().getName(), map);
      }
    }
    newer.forEach(
        (name, known) -> {
          if (known.isEmpty()) {
            byName.remove(name);
          } else if (pool.equals(known.get().getMetadata().getLabels().get(Names.POOL_LABEL))) {
            ConfigMap seen = byName.get(name);
            if (seen == null || isNewer(known.get(), seen)) {
              byName.put(name, known.get());
            }
          }
        });
    return byNode(byName.values());
  }

  /**
   * Calls {@code listener} with each shard the watch delivers, created or changed, once {@link
   * #shards} shows it: whatever the listener wakes reads that version of the shard or a newer one.
   * Returns what stops the calls.
   */
  public Runnable onShardDelivered(Consumer<ConfigMap> listener) {
    deliveredListeners.add(listener);
    return () -> deliveredListeners.remove(listener);
  }

  @Override
  public Set<String> lostShards(String pool) {
    Set<String> nodes = lost.get(pool);
    return nodes == null ? Set.of() : Set.copyOf(nodes);
  }

  private void lose(String pool, String node) {
    lost.computeIfAbsent(pool, p -> ConcurrentHashMap.newKeySet()).add(node);
  }

  private void found(ConfigMap map) {
    if (isShard(map)) {
      Set<String> nodes = lost.get(map.getMetadata().getLabels().get(Names.POOL_LABEL));
      if (nodes != null) {
        nodes.remove(map.getData().get(Names.LEDGER_SHARD_NODE_KEY));
      }
    }
  }

  @Override
  public Map<String, Versioned> readShards(String pool) {
    return byNode(
        client
            .configMaps()
            .inNamespace(namespace)
            .withLabel(Names.POOL_LABEL, pool)
            .withLabel(Names.LEDGER_NODE_LABEL)
            .list()
            .getItems());
  }

  @Override
  public void confirm(String pool, Set<String> nodes) {
    Set<String> absent = new HashSet<>(nodes);
    List<String> labels = nodes.stream().map(Names::ledgerNode).toList();
    // One list per few nodes: a selector naming them all could pass a URL's length.
    for (int from = 0; from < labels.size(); from += CONFIRMED_PER_LIST) {
      String[] some =
          labels
              .subList(from, Math.min(labels.size(), from + CONFIRMED_PER_LIST))
              .toArray(String[]::new);
      for (ConfigMap map :
          client
              .configMaps()
              .inNamespace(namespace)
              .withLabel(Names.POOL_LABEL, pool)
              .withLabelIn(Names.LEDGER_NODE_LABEL, some)
              .list()
              .getItems()) {
        if (isShard(map) && absent.remove(map.getData().get(Names.LEDGER_SHARD_NODE_KEY))) {
          newer.merge(
              map.getMetadata().getName(),
              Optional.of(map),
              (known, read) -> known.isPresent() && isNewer(known.get(), map) ? known : read);
          found(map);
        }
      }
    }
    absent.forEach(node -> lose(pool, node));
    // A shard created after the list and delivered before its node was marked lost is not lost.
    // The mark comes first and the view is read after it: a delivery either shows in this view or
    // runs its found() after the mark, and clears it either way.
    Map<String, Versioned> now = shards(pool);
    absent.stream()
        .filter(now::containsKey)
        .forEach(node -> lost.get(pool).remove(node)); // marked just above
  }

  private static Map<String, Versioned> byNode(Iterable<ConfigMap> maps) {
    Map<String, Versioned> byNode = new HashMap<>();
    for (ConfigMap map : maps) {
      byNode.put(
          map.getData().get(Names.LEDGER_SHARD_NODE_KEY),
          new Versioned(map.getMetadata().getResourceVersion(), document(map)));
    }
    return byNode;
  }

  @Override
  public Versioned write(String pool, String node, Versioned current, String document) {
    String name = Names.ledgerShard(pool, node);
    ConfigMap next =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(namespace)
            .withResourceVersion(current == null ? null : current.version())
            .addToLabels(Names.MANAGED_BY, "nimbus")
            .addToLabels(Names.POOL_LABEL, pool)
            .addToLabels(Names.LEDGER_NODE_LABEL, Names.ledgerNode(node))
            .endMetadata()
            .withData(Map.of(Names.LEDGER_SHARD_NODE_KEY, node, Names.LEDGER_SHARD_KEY, document))
            .build();
    var maps = client.configMaps().inNamespace(namespace);
    try {
      ConfigMap written =
          current == null ? maps.resource(next).create() : maps.resource(next).update();
      newer.put(name, Optional.of(written));
      found(written);
      return new Versioned(written.getMetadata().getResourceVersion(), document);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409 || e.getCode() == 404) {
        // Written, created or deleted by someone else since it was read: learn how it is now.
        ConfigMap now = maps.withName(name).get();
        newer.put(name, Optional.ofNullable(now));
        if (now == null && current != null) {
          lose(pool, node); // it existed, and is gone
        } else if (now != null) {
          found(now); // it exists, whatever this replica took it for
        }
        return null;
      }
      throw e;
    }
  }

  @Override
  public boolean mayHaveLegacy(String pool) {
    ConfigMap legacy = watched.getStore().getByKey(namespace + "/" + Names.ledger(pool));
    return legacy != null
        && !(legacy.getData() != null && legacy.getData().containsKey(Names.LEDGER_COPIED_KEY));
  }

  @Override
  public Legacy legacy(String pool) {
    ConfigMap legacy =
        client.configMaps().inNamespace(namespace).withName(Names.ledger(pool)).get();
    if (legacy == null) {
      return null;
    }
    Map<String, String> data = legacy.getData() == null ? Map.of() : legacy.getData();
    boolean retired = data.containsKey(Names.LEDGER_RETIRED_KEY);
    String document = data.get(retired ? Names.LEDGER_FROZEN_KEY : Names.LEDGER_KEY);
    return new Legacy(
        legacy.getMetadata().getResourceVersion(), document == null ? "" : document, retired);
  }

  @Override
  public boolean retireLegacy(String pool, Legacy current) {
    ConfigMap retired =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName(Names.ledger(pool))
            .withNamespace(namespace)
            .withResourceVersion(current.version())
            .addToLabels(Names.MANAGED_BY, "nimbus")
            .addToLabels(Names.POOL_LABEL, pool)
            .endMetadata()
            .withData(
                Map.of(
                    Names.LEDGER_KEY,
                    "Retired: this pool's reservations are kept in one ConfigMap per node"
                        + " (nimbus-ledger."
                        + pool
                        + ".*). Not JSON on purpose, so that an earlier Nimbus refuses to"
                        + " admit into this pool instead of admitting on its own.",
                    Names.LEDGER_FROZEN_KEY,
                    current.document(),
                    Names.LEDGER_RETIRED_KEY,
                    Instant.now().toString()))
            .build();
    try {
      client.configMaps().inNamespace(namespace).resource(retired).update();
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return false;
      }
      throw e;
    }
  }

  @Override
  public void legacyCopied(String pool) {
    client
        .configMaps()
        .inNamespace(namespace)
        .withName(Names.ledger(pool))
        .edit(
            map -> {
              map.getData().put(Names.LEDGER_COPIED_KEY, Instant.now().toString());
              return map;
            });
  }

  private static boolean isShard(ConfigMap map) {
    return map.getMetadata().getLabels().containsKey(Names.LEDGER_NODE_LABEL)
        && map.getData() != null
        && map.getData().containsKey(Names.LEDGER_SHARD_NODE_KEY);
  }

  /** The document a shard ConfigMap holds; empty when it holds none. */
  private static String document(ConfigMap map) {
    String data = map.getData() == null ? null : map.getData().get(Names.LEDGER_SHARD_KEY);
    return data == null ? "" : data;
  }

  /** Whether {@code a} is a later version of its object than {@code b}, or cannot be told. */
  private static boolean isNewer(ConfigMap a, ConfigMap b) {
    Long x = revision(a);
    Long y = revision(b);
    return x == null || y == null || x > y;
  }

  private static Long revision(ConfigMap map) {
    try {
      return Long.parseLong(map.getMetadata().getResourceVersion());
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** Drops what is laid over the watch once the watch has delivered it, or anything newer. */
  private final class Delivered implements ResourceEventHandler<ConfigMap> {
    @Override
    public void onAdd(ConfigMap map) {
      delivered(map);
      found(map);
      tellListeners(map);
    }

    @Override
    public void onUpdate(ConfigMap old, ConfigMap map) {
      delivered(map);
      found(map);
      tellListeners(map);
    }

    private void tellListeners(ConfigMap map) {
      if (isShard(map)) {
        deliveredListeners.forEach(listener -> listener.accept(map));
      }
    }

    @Override
    public void onDelete(ConfigMap map, boolean deletedFinalStateUnknown) {
      newer.remove(map.getMetadata().getName());
      if (isShard(map)) {
        lose(
            map.getMetadata().getLabels().get(Names.POOL_LABEL),
            map.getData().get(Names.LEDGER_SHARD_NODE_KEY));
      }
    }

    private void delivered(ConfigMap map) {
      newer.computeIfPresent(
          map.getMetadata().getName(),
          (name, known) ->
              known.isPresent()
                      && revision(known.get()) != null
                      && revision(map) != null
                      && revision(known.get()) > revision(map)
                  ? known
                  : null);
    }
  }
}
