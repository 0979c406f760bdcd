package dev.nimbus.capacitypool;

import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.NimbusConfig;
import dev.nimbus.config.Retries;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.inventory.SlimItemStore;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.ledger.Sightings;
import dev.nimbus.metrics.NimbusMetrics;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.PagedLists;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.MaxReconciliationInterval;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.rate.RateLimited;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * Keeps a CapacityPool's status and metrics true to its nodes and its ledger, and releases
 * reservations whose objects do not exist (a create that a later admission step refused, or a
 * workload that was deleted). Reconciles when a node or the ledger changes, at most once a second
 * (the changes of that second are reconciled together: a stream of admissions would otherwise
 * rewrite a status of a few hundred bytes per node several times a second), and at least every
 * resync interval.
 */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
@ControllerConfiguration(
    name = "capacitypool",
    maxReconciliationInterval =
        @MaxReconciliationInterval(
            interval = CapacityPoolReconciler.RESYNC_SECONDS,
            timeUnit = TimeUnit.SECONDS))
@RateLimited(maxReconciliations = 1, within = 1, unit = TimeUnit.SECONDS)
public class CapacityPoolReconciler implements Reconciler<CapacityPool> {
  static final long RESYNC_SECONDS = 10;
  private static final Logger LOG = Logger.getLogger(CapacityPoolReconciler.class);

  private final KubernetesClient client;
  private final LedgerStore ledgers;
  private final NimbusConfig config;
  private final NimbusMetrics metrics;
  private final Inventory inventory;
  private final Map<String, Sightings<String>> unaccountedByPool = new ConcurrentHashMap<>();
  private final Map<String, Sightings<String>> lostByPool = new ConcurrentHashMap<>();
  private final EventRecorder events;
  private final WatchedNamespaces watched;

  public CapacityPoolReconciler(
      KubernetesClient client,
      LedgerStore ledgers,
      NimbusConfig config,
      NimbusMetrics metrics,
      Inventory inventory,
      EventRecorder events,
      WatchedNamespaces watched) {
    this.events = events;
    this.watched = watched;
    this.inventory = inventory;
    this.client = client;
    this.ledgers = ledgers;
    this.config = config;
    this.metrics = metrics;
  }

  @Override
  public List<EventSource<?, CapacityPool>> prepareEventSources(
      EventSourceContext<CapacityPool> context) {
    var nodes =
        InformerEventSourceConfiguration.from(Node.class, CapacityPool.class)
            .withSecondaryToPrimaryMapper(node -> allPools(context))
            // A trigger only: the model reads the nodes of the inventory.
            .withItemStore(SlimItemStore.namesOnly())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .build();
    var ledgerMaps =
        InformerEventSourceConfiguration.from(ConfigMap.class, CapacityPool.class)
            .withNamespaces(config.namespace())
            .withLabelSelector(Names.POOL_LABEL)
            .withSecondaryToPrimaryMapper(
                map -> Set.of(new ResourceID(map.getMetadata().getLabels().get(Names.POOL_LABEL))))
            // A trigger only: the ledger is read through the ledger store.
            .withItemStore(SlimItemStore.namesOnly())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .build();
    return List.of(
        new InformerEventSource<>(nodes, context), new InformerEventSource<>(ledgerMaps, context));
  }

  private static Set<ResourceID> allPools(EventSourceContext<CapacityPool> context) {
    return context
        .getPrimaryCache()
        .list()
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<CapacityPool> reconcile(CapacityPool pool, Context<CapacityPool> context) {
    String name = pool.getMetadata().getName();
    Swept swept = releaseOrphans(name);
    Optional<Duration> rebuildRecheck = rebuildLostShards(pool);
    Ledger ledger = ledgers.recent(name);
    // Nodes come from the inventory that admission decides from, so that status and admission
    // agree; the node event source above only triggers reconciles.
    Pool model = PoolModels.pool(pool, inventory.nodes(), ledger.reservations());
    publishMetrics(name, model);
    CapacityPoolStatus status = PoolStatuses.of(pool, model, ledger.lostNodes());
    UpdateControl<CapacityPool> control = StatusPatch.ifChanged(pool, status, CapacityPool::new);
    return Stream.of(swept.recheck(), rebuildRecheck)
        .flatMap(Optional::stream)
        .min(Duration::compareTo)
        .map(control::rescheduleAfter)
        .orElse(control);
  }

  /**
   * Rebuilds the pool's lost ledger shards (deleted, or edited into what cannot be read) from the
   * placements that the stored workloads' statuses show, once this replica has seen each lost for
   * {@code nimbus.ledger.rebuild-delay}: a create admitted onto the node just before the loss is
   * stored by then. Until a shard is rebuilt nothing is placed on its node, and the controllers
   * leave the workloads on it as they are. Returns when to look again.
   */
  private Optional<Duration> rebuildLostShards(CapacityPool pool) {
    String name = pool.getMetadata().getName();
    Set<String> lost = ledgers.recent(name).lostNodes();
    Sightings<String> seen = lostByPool.computeIfAbsent(name, p -> new Sightings<>());
    seen.retainOnly(lost);
    Duration delay = config.ledger().rebuildDelay();
    List<String> due = new ArrayList<>();
    Duration soonest = null;
    for (String node : lost) {
      Duration left = delay.minus(seen.seenFor(node));
      if (left.isNegative() || left.isZero()) {
        due.add(node);
      } else if (soonest == null || left.compareTo(soonest) < 0) {
        soonest = left;
      }
    }
    if (due.isEmpty()) {
      return Optional.ofNullable(soonest);
    }
    List<LedgerEntry> stored =
        StoredAdmissions.of(
            name,
            PoolModels.pool(pool, inventory.nodes(), List.of()),
            PagedLists.all(client, watched, VirtualServer.class, w -> w),
            PagedLists.all(client, watched, ContainerTask.class, w -> w),
            inventory,
            Instant.now());
    for (String node : due) {
      List<LedgerEntry> placed =
          stored.stream()
              .filter(e -> e.placements().stream().anyMatch(p -> p.node().equals(node)))
              .toList();
      if (ledgers.rebuild(name, node, placed)) {
        seen.forget(node);
        String message =
            "the ledger shard of node "
                + node
                + " was lost (deleted, or not readable) and is rebuilt from the "
                + placed.size()
                + " stored workload(s) placed on it";
        LOG.warnf("Pool %s: %s", name, message);
        events.warning(pool, EventRecorder.Reason.LedgerShardRebuilt, message);
      }
    }
    // A rebuilt shard is seen through the watch; one that lost a race is tried again.
    return Optional.of(Duration.ofSeconds(1));
  }

  /**
   * Releases the reservations of objects that do not exist once their grace period has passed: a
   * create still in flight has an entry but no stored object yet, and must keep it. The grace is
   * judged on the API server's clock, from a time it had not reached yet when the entry was decided
   * to one it has certainly reached now ({@link dev.nimbus.ledger.ApiServerClock}): whichever
   * replica decided and whichever judges, and across a change of leader, it never ends before the
   * API server has stopped waiting for the create. An entry of an earlier version, or decided
   * before its replica heard the API server, is judged from the first time this replica saw it
   * unaccounted for, on its own monotonic clock, which can only make the grace longer. Returns the
   * ledger and when to look again.
   *
   * <p>An entry is accounted for by the workloads this replica watches (their names and UIDs), so a
   * sweep costs no request while every reservation has its object. What it would release it reads
   * back first, one object each: a watch that lags (a relist on a loaded API server) must never
   * cost a running workload its room. It never lists every workload of the cluster: such a list
   * grows with the cluster, and on a loaded API server it outlasts the client's timeout and is sent
   * again, which keeps the API server from serving anything else.
   */
  private Swept releaseOrphans(String pool) {
    Ledger ledger = ledgers.recent(pool);
    Sightings<String> unaccounted = unaccountedByPool.computeIfAbsent(pool, p -> new Sightings<>());
    unaccounted.retainOnly(ledger.entries().keySet());
    Duration grace = config.ledger().orphanGracePeriod();
    List<LedgerEntry> past = new ArrayList<>();
    Duration soonest = null;
    for (LedgerEntry entry : ledger.entries().values()) {
      String uid = entry.uid();
      // An entry of a namespace this install does not serve (written before the install was made
      // namespaced) is kept: its workload may well run, where this install cannot look.
      if (!watched.includes(entry.namespace())
          || inventory.stored(entry.kind(), entry.namespace(), entry.name(), uid)) {
        unaccounted.forget(uid);
        continue;
      }
      Duration age = ledgers.ageOf(entry, unaccounted.seenFor(uid));
      if (age.compareTo(grace) >= 0) {
        past.add(entry);
      } else if (soonest == null || grace.minus(age).compareTo(soonest) < 0) {
        soonest = grace.minus(age);
      }
    }
    Optional<Duration> recheck = Optional.ofNullable(soonest);
    Set<String> orphans = new HashSet<>();
    for (LedgerEntry entry : past) {
      if (storedNow(entry)) {
        unaccounted.forget(entry.uid());
      } else {
        orphans.add(entry.uid());
      }
    }
    if (orphans.isEmpty()) {
      return new Swept(ledger, recheck);
    }
    Ledger released =
        ledgers.change(
            pool,
            current -> {
              Ledger next = current.without(orphans);
              return LedgerStore.Change.write(next, next);
            });
    for (String uid : orphans) {
      LedgerEntry entry = ledger.entry(uid);
      unaccounted.forget(uid);
      LOG.infof(
          "Released the reservation of %s %s/%s (uid %s) in pool %s: the object does not exist",
          entry.kind(), entry.namespace(), entry.name(), uid, pool);
    }
    return new Swept(released, recheck);
  }

  /** The ledger after a sweep for orphans, and when an unaccounted entry's grace ends. */
  private record Swept(Ledger ledger, Optional<Duration> recheck) {}

  /** Whether the entry's object is stored, as the API server answers now. */
  private boolean storedNow(LedgerEntry entry) {
    Class<? extends HasMetadata> type =
        "ContainerTask".equals(entry.kind()) ? ContainerTask.class : VirtualServer.class;
    HasMetadata stored =
        client.resources(type).inNamespace(entry.namespace()).withName(entry.name()).get();
    return stored != null && entry.uid().equals(stored.getMetadata().getUid());
  }

  private void publishMetrics(String pool, Pool model) {
    for (Resource resource : Resource.values()) {
      double scale = resource == Resource.CPU ? 1000.0 : 1.0;
      metrics.pool(
          pool, "physical", resource.kubernetesName(), model.physical().get(resource) / scale);
      metrics.pool(
          pool, "virtual", resource.kubernetesName(), model.virtual().get(resource) / scale);
      metrics.pool(
          pool, "allocated", resource.kubernetesName(), model.allocated().get(resource) / scale);
      metrics.pool(pool, "free", resource.kubernetesName(), model.free().get(resource) / scale);
    }
  }
}
