package dev.nimbus.inventory;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.workload.PagedLists;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.ReducedStateItemStore;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Cached, watched copies of what admission reads on every request: nodes, pools, instance types,
 * and, of the namespaces this install serves, key pairs, security groups, task definitions and the
 * workloads' names. Admission decides from these caches, which may lag the API server by moments;
 * the ledger it writes to is never read from a cache.
 */
@ApplicationScoped
public class Inventory implements Catalog {
  private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(60);

  private final SharedIndexInformer<Node> nodes;
  private final SharedIndexInformer<CapacityPool> pools;
  private final SharedIndexInformer<InstanceType> instanceTypes;
  private final WatchedInformer<KeyPair> keyPairs;
  private final WatchedInformer<SecurityGroup> securityGroups;
  private final WatchedInformer<TaskDefinitionRevision> taskDefinitionRevisions;
  // Only the names and UIDs of the workloads: whether a name is taken, a reservation's object
  // stored.
  private final WatchedInformer<VirtualServer> servers;
  private final WatchedInformer<ContainerTask> tasks;
  // The same as kind/namespace/name to UID, kept from the informers' events: some decisions ask it
  // for every entry of a pool, and each read of the reduced store builds a whole object.
  private final Map<String, String> workloadUids = new ConcurrentHashMap<>();
  private final StoredPlacements placements = new StoredPlacements();
  private final WatchedNamespaces watched;
  private volatile boolean started;

  public Inventory(KubernetesClient client, WatchedNamespaces watched) {
    this.watched = watched;
    nodes =
        client
            .nodes()
            .withLimit(PagedLists.INFORMER_PAGE)
            .runnableInformer(0)
            .itemStore(new SlimItemStore<>());
    pools =
        client
            .resources(CapacityPool.class)
            .withLimit(PagedLists.INFORMER_PAGE)
            .runnableInformer(0)
            .itemStore(new SlimItemStore<>());
    instanceTypes =
        client
            .resources(InstanceType.class)
            .withLimit(PagedLists.INFORMER_PAGE)
            .runnableInformer(0)
            .itemStore(new SlimItemStore<>());
    keyPairs = new WatchedInformer<>(client, KeyPair.class, watched, SlimItemStore::new);
    // Only names: a group's rules (up to 120 peers) are the controllers' to read.
    securityGroups =
        new WatchedInformer<>(
            client,
            SecurityGroup.class,
            watched,
            () ->
                new ReducedStateItemStore<>(
                    ReducedStateItemStore.NAME_KEY_STATE,
                    SecurityGroup.class,
                    client.getKubernetesSerialization()));
    taskDefinitionRevisions =
        new WatchedInformer<>(client, TaskDefinitionRevision.class, watched, SlimItemStore::new);
    servers =
        new WatchedInformer<>(
            client, VirtualServer.class, watched, () -> namesAndUids(client, VirtualServer.class));
    tasks =
        new WatchedInformer<>(
            client, ContainerTask.class, watched, () -> namesAndUids(client, ContainerTask.class));
    servers.addEventHandler(new WorkloadUids<>());
    tasks.addEventHandler(new WorkloadUids<>());
    servers.addEventHandler(placements);
    tasks.addEventHandler(placements);
  }

  /** Keeps {@link #workloadUids} as the informer's store is. */
  private final class WorkloadUids<T extends HasMetadata> implements ResourceEventHandler<T> {
    @Override
    public void onAdd(T workload) {
      workloadUids.put(workloadKey(workload), workload.getMetadata().getUid());
    }

    @Override
    public void onUpdate(T before, T workload) {
      onAdd(workload);
    }

    @Override
    public void onDelete(T workload, boolean finalStateUnknown) {
      workloadUids.remove(workloadKey(workload), workload.getMetadata().getUid());
    }
  }

  private static String workloadKey(HasMetadata workload) {
    return workloadKey(
        workload.getKind(),
        workload.getMetadata().getNamespace(),
        workload.getMetadata().getName());
  }

  private static String workloadKey(String kind, String namespace, String name) {
    return kind + "/" + namespace + "/" + name;
  }

  private static <T extends HasMetadata> ReducedStateItemStore<T> namesAndUids(
      KubernetesClient client, Class<T> type) {
    return new ReducedStateItemStore<>(
        ReducedStateItemStore.NAME_KEY_STATE,
        type,
        client.getKubernetesSerialization(),
        "metadata.uid");
  }

  /**
   * Starts every informer and waits until each has listed once. Idempotent; every reader calls it,
   * so that neither the webhook nor a controller ever decides from caches still empty.
   */
  public void start() {
    if (!started) {
      startOnce();
    }
  }

  private synchronized void startOnce() {
    if (started) {
      return;
    }
    var syncs =
        Stream.concat(
                clusterWide().stream().map(i -> i.start().toCompletableFuture()),
                namespaced().stream().map(WatchedInformer::start))
            .toList();
    for (var start : syncs) {
      try {
        start.get(SYNC_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException("the inventory did not sync: " + e.getMessage(), e);
      }
    }
    started = true;
  }

  void stop(@Observes ShutdownEvent event) {
    clusterWide().forEach(SharedIndexInformer::stop);
    namespaced().forEach(WatchedInformer::stop);
  }

  private List<SharedIndexInformer<?>> clusterWide() {
    return List.of(nodes, pools, instanceTypes);
  }

  private List<WatchedInformer<?>> namespaced() {
    return List.of(keyPairs, securityGroups, taskDefinitionRevisions, servers, tasks);
  }

  @Override
  public boolean serves(String namespace) {
    return watched.includes(namespace);
  }

  @Override
  public List<Node> nodes() {
    start();
    return nodes.getStore().list();
  }

  /** A node by name, from the cache's index rather than a scan. */
  @Override
  public Optional<Node> node(String name) {
    start();
    return Optional.ofNullable(nodes.getStore().getByKey(name));
  }

  @Override
  public List<CapacityPool> pools() {
    start();
    return pools.getStore().list();
  }

  @Override
  public Optional<CapacityPool> pool(String name) {
    start();
    return Optional.ofNullable(pools.getStore().getByKey(name));
  }

  @Override
  public Optional<InstanceType> instanceType(String name) {
    start();
    return Optional.ofNullable(instanceTypes.getStore().getByKey(name));
  }

  @Override
  public List<InstanceType> instanceTypes() {
    start();
    return instanceTypes.getStore().list();
  }

  @Override
  public Optional<KeyPair> keyPair(String namespace, String name) {
    start();
    return Optional.ofNullable(keyPairs.get(namespace, name));
  }

  @Override
  public boolean hasSecurityGroup(String namespace, String name) {
    start();
    return securityGroups.get(namespace, name) != null;
  }

  @Override
  public Optional<TaskDefinitionRevision> taskDefinitionRevision(String namespace, String name) {
    start();
    return Optional.ofNullable(taskDefinitionRevisions.get(namespace, name));
  }

  /**
   * The nodes of {@code pool} that stored workloads' statuses place instances on: where such a node
   * has no ledger shard, the shard was lost while no replica watched it.
   */
  public Set<String> nodesPlacedOn(String pool) {
    start();
    return placements.nodes(pool);
  }

  @Override
  public Optional<String> storedUid(String kind, String namespace, String name) {
    start();
    return Optional.ofNullable(workloadUids.get(workloadKey(kind, namespace, name)));
  }
}
