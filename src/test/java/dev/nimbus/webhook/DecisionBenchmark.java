package dev.nimbus.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.inventory.Catalog;
import dev.nimbus.ledger.LedgerCommits;
import dev.nimbus.ledger.ReservedAt;
import dev.nimbus.ledger.ShardsOnlyStorage;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.webhook.AdmissionDecision.Decision;
import dev.nimbus.webhook.AdmissionDecision.Reserve;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one admission costs the operator's CPU as a pool fills, with no API server: the decision and
 * the ledger commit that production runs ({@link AdmissionDecision} through {@link LedgerCommits}),
 * over a pool of many nodes and a ledger kept in memory, shard writes taking no time. It shows how
 * a decision's cost grows with the pool's nodes and its reservations, apart from the API server's.
 * Run by {@code bench/decision.sh}; in this package because the decision is package-private.
 *
 * <p>Arguments: nodes (default 1000), the ledger sizes to measure at (default 0,1000,3000,10000),
 * the creates timed at each size (default 300), and the clients deciding at once (default 1,32).
 */
public final class DecisionBenchmark {
  private static final KubernetesSerialization JSON = new KubernetesSerialization();
  private static final String NAMESPACE = "bench";

  public static void main(String[] args) throws Exception {
    try {
      run(args);
    } finally {
      System.exit(0);
    }
  }

  private static void run(String[] args) throws Exception {
    int nodes = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    List<Integer> sizes = ints(args.length > 1 ? args[1] : "0,1000,3000,10000");
    int timed = args.length > 2 ? Integer.parseInt(args[2]) : 300;
    List<Integer> clients = ints(args.length > 3 ? args[3] : "1,32");

    List<Node> kvmNodes = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      kvmNodes.add(Fixtures.kvmNode("kvm-" + i, Map.of("group", "kvm"), "64", "256Gi"));
    }
    CapacityPool pool = Fixtures.serverPool("kvm", "group", "kvm");
    StoredCatalog catalog =
        new StoredCatalog(kvmNodes, pool, Fixtures.instanceType("small", 2, "4Gi"));
    AdmissionDecision decisions =
        new AdmissionDecision(JSON, catalog, workload -> Optional.empty(), 0.25);
    LedgerCommits commits =
        new LedgerCommits(new MemoryStorage(), 20, Duration.ofSeconds(30), anyPool -> Set.of());

    System.out.printf(
        "machine: %d cores, %s%n",
        Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.version"));
    System.out.printf("pool: %d nodes; one-instance VirtualServers of 2 vCPU, 4Gi%n%n", nodes);
    System.out.println("| reservations held | clients | decisions/s | CPU ms per decision |");
    System.out.println("|---|---|---|---|");
    AtomicInteger created = new AtomicInteger();
    for (int size : sizes) {
      fill(decisions, commits, catalog, created, size, clients.get(clients.size() - 1));
      for (int threads : clients) {
        long cpuBefore = processCpuNanos();
        long start = System.nanoTime();
        create(decisions, commits, catalog, created, timed, threads);
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpuMs = (processCpuNanos() - cpuBefore) / 1e6 / timed;
        System.out.printf(
            "| %,d | %d | %,.0f | %.2f |%n",
            created.get() - timed, threads, timed / seconds, cpuMs);
      }
    }
  }

  /** Creates servers until {@code size} are held. */
  private static void fill(
      AdmissionDecision decisions,
      LedgerCommits commits,
      StoredCatalog catalog,
      AtomicInteger created,
      int size,
      int threads)
      throws Exception {
    int missing = size - created.get();
    if (missing > 0) {
      create(decisions, commits, catalog, created, missing, threads);
    }
  }

  /** {@code count} creates by {@code threads} clients at once, each decided, committed, stored. */
  private static void create(
      AdmissionDecision decisions,
      LedgerCommits commits,
      StoredCatalog catalog,
      AtomicInteger created,
      int count,
      int threads)
      throws Exception {
    AtomicInteger left = new AtomicInteger(count);
    ExecutorService clients = Executors.newFixedThreadPool(threads);
    List<Future<?>> running = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      running.add(
          clients.submit(
              () -> {
                while (left.getAndDecrement() > 0) {
                  int n = created.getAndIncrement();
                  VirtualServer server = server("server-" + n);
                  var outcome = decisions.decide(create(server));
                  if (!(outcome instanceof Reserve reserve)) {
                    throw new IllegalStateException("not a reservation: " + outcome);
                  }
                  Decision decision =
                      commits.change(
                          "kvm",
                          ledger ->
                              decisions.reserve(
                                  reserve,
                                  ledger,
                                  ReservedAt.onThisReplica(Instant.now()),
                                  "Admitted"));
                  if (!decision.allowed()) {
                    throw new IllegalStateException("refused: " + decision.message());
                  }
                  catalog.store(server);
                }
                return null;
              }));
    }
    try {
      for (Future<?> each : running) {
        each.get();
      }
    } finally {
      clients.shutdownNow();
    }
  }

  private static VirtualServer server(String name) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(NAMESPACE)
            .withName(name)
            .withUid("uid-" + name)
            .withGeneration(1L)
            .build());
    server.setSpec(
        new VirtualServerSpec("ami-1", "small", 1, 1, null, null, null, "kvm", null, null));
    return server;
  }

  private static AdmissionReviews.Request create(VirtualServer server) {
    return new AdmissionReviews.Request(
        "review-" + server.getMetadata().getName(),
        "VirtualServer",
        "CREATE",
        NAMESPACE,
        server.getMetadata().getName(),
        false,
        JSON.convertValue(server, JsonNode.class),
        null);
  }

  private static List<Integer> ints(String list) {
    return Arrays.stream(list.split(",")).map(Integer::parseInt).toList();
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** One pool, one instance type, and the servers stored so far, looked up as Inventory does. */
  private static final class StoredCatalog implements Catalog {
    private final List<Node> nodes;
    private final Map<String, Node> byName = new HashMap<>();
    private final CapacityPool pool;
    private final InstanceType type;
    private final Map<String, String> storedUids = new ConcurrentHashMap<>();

    StoredCatalog(List<Node> nodes, CapacityPool pool, InstanceType type) {
      this.nodes = List.copyOf(nodes);
      nodes.forEach(n -> byName.put(n.getMetadata().getName(), n));
      this.pool = pool;
      this.type = type;
    }

    void store(VirtualServer server) {
      storedUids.put(server.getMetadata().getName(), server.getMetadata().getUid());
    }

    @Override
    public boolean serves(String namespace) {
      return true;
    }

    @Override
    public List<Node> nodes() {
      return nodes;
    }

    @Override
    public Optional<Node> node(String name) {
      return Optional.ofNullable(byName.get(name));
    }

    @Override
    public List<CapacityPool> pools() {
      return List.of(pool);
    }

    @Override
    public Optional<CapacityPool> pool(String name) {
      return Optional.of(pool).filter(p -> p.getMetadata().getName().equals(name));
    }

    @Override
    public Optional<InstanceType> instanceType(String name) {
      return Optional.of(type).filter(t -> t.getMetadata().getName().equals(name));
    }

    @Override
    public List<InstanceType> instanceTypes() {
      return List.of(type);
    }

    @Override
    public Optional<KeyPair> keyPair(String namespace, String name) {
      return Optional.empty();
    }

    @Override
    public boolean hasSecurityGroup(String namespace, String name) {
      return false;
    }

    @Override
    public Optional<TaskDefinitionRevision> taskDefinitionRevision(String namespace, String name) {
      return Optional.empty();
    }

    @Override
    public Optional<String> storedUid(String kind, String namespace, String name) {
      return Optional.ofNullable(storedUids.get(name));
    }
  }

  /** The shards of the pool in memory, each written over the version it was read at. */
  private static final class MemoryStorage extends ShardsOnlyStorage {
    private final Map<String, Versioned> shards = new ConcurrentHashMap<>();
    private final AtomicInteger versions = new AtomicInteger();

    @Override
    public Map<String, Versioned> shards(String pool) {
      return Map.copyOf(shards);
    }

    @Override
    public Versioned write(String pool, String node, Versioned current, String document) {
      Versioned written = new Versioned(Integer.toString(versions.incrementAndGet()), document);
      boolean swapped =
          current == null
              ? shards.putIfAbsent(node, written) == null
              : shards.replace(node, current, written);
      return swapped ? written : null;
    }
  }
}
