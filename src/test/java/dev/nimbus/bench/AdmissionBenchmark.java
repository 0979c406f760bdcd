package dev.nimbus.bench;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Creates per second and create latency through the API server at 1, 8 and 32 concurrent clients:
 * with no webhook, through a webhook that allows everything on the same TLS stack ({@link
 * NoOpWebhook}, what any webhook costs here), and through Nimbus. Run by {@code
 * bench/admission.sh}; every create is admitted (the pool of 100 nodes has room for 1,600 and each
 * row's servers are deleted before the next), so the figures are those of the decision and its
 * ledger write, not of denials.
 */
public final class AdmissionBenchmark {
  private static final String POOL = "bench";
  private static final int[] CLIENTS = {1, 8, 32};
  // Nodes as a pool has them (16 one-vCPU servers each at ratio 1), so that a node's ledger shard
  // holds what one node hosts, not the whole run.
  private static final int NODES = 100;

  private AdmissionBenchmark() {}

  public static void main(String[] args) {
    BenchMain.runThenExit(AdmissionBenchmark::run, args);
  }

  private static void run(String[] args) throws Exception {
    int creates = args.length > 0 ? Integer.parseInt(args[0]) : 300;
    boolean onlyNimbus = args.length > 1 && args[1].equals("nimbus");
    KubernetesClient client = LocalCluster.client();
    setUp(client);
    System.out.printf("creates per run: %d%n", creates);
    System.out.printf(
        "| webhook | clients | creates/s | p50 ms | p99 ms | webhook call ms | decision ms |"
            + " API server CPU ms per create |%n"
            + "|---|---|---|---|---|---|---|---|%n");
    if (!onlyNimbus) {
      for (int clients : CLIENTS) {
        row(client, "off", clients, creates, Optional.empty());
      }
      for (int clients : CLIENTS) {
        try (NoOpWebhook noOp = new NoOpWebhook(client, namespace("no-op", clients))) {
          Thread.sleep(3000); // the API server picks up the new webhook configuration
          row(client, "no-op", clients, creates, Optional.empty());
        }
      }
    }
    try (OperatorProcess operator =
        OperatorProcess.start(
            "bench-operator",
            OperatorOptions.replica(
                "nimbus-bench", 19543, "https://127.0.0.1:19543", "nimbus-bench"))) {
      Thread.sleep(3000); // the API server picks up the new webhook configuration
      for (int clients : CLIENTS) {
        row(client, "nimbus", clients, creates, Optional.of(operator));
      }
    } finally {
      client
          .admissionRegistration()
          .v1()
          .validatingWebhookConfigurations()
          .withName("nimbus-bench")
          .delete();
      client.resources(CapacityPool.class).withName(POOL).delete();
      for (int i = 0; i < NODES; i++) {
        client.nodes().withName("bench-" + i).delete();
      }
    }
  }

  /**
   * One row. With {@code operator}, also where a create's time went: the API server's mean time
   * calling the webhooks of the row (TLS, the operator's queues and its answer) and the operator's
   * mean time deciding (its admission latency, from reading the request to its answer).
   */
  private static void row(
      KubernetesClient client,
      String webhook,
      int clients,
      int creates,
      Optional<OperatorProcess> operator)
      throws Exception {
    String called = webhook.equals("nimbus") ? Names.WEBHOOK_NAME : NoOpWebhook.NAME;
    // The API server's metrics, read once before the row and once after it.
    String metricsBefore = client.raw("/metrics");
    Mean calls = Mean.webhookCalls(metricsBefore, called);
    Mean decisions = operator.map(Mean::decisions).orElse(null);
    String namespace = namespace(webhook, clients);
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .serverSideApply();
    List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger next = new AtomicInteger();
    ExecutorService threads = Executors.newFixedThreadPool(clients);
    long start = System.nanoTime();
    List<Future<?>> workers = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      workers.add(
          threads.submit(
              () -> {
                for (int i; (i = next.getAndIncrement()) < creates; ) {
                  long begin = System.nanoTime();
                  client.resource(server(namespace, "vs-" + i)).create();
                  latencies.add(System.nanoTime() - begin);
                }
                return null;
              }));
    }
    for (Future<?> worker : workers) {
      worker.get();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    threads.shutdown();
    if (operator.isPresent()) {
      // The row's cost includes what the operator writes for each server until it has a status.
      client
          .resources(VirtualServer.class)
          .inNamespace(namespace)
          .informOnCondition(
              servers ->
                  servers.size() == creates
                      && servers.stream().allMatch(s -> s.getStatus() != null))
          .get(120, TimeUnit.SECONDS);
    }
    String metricsAfter = client.raw("/metrics");
    double cpu = apiServerCpuSeconds(metricsAfter) - apiServerCpuSeconds(metricsBefore);
    List<Long> sorted = new ArrayList<>(latencies);
    Collections.sort(sorted);
    System.out.printf(
        "| %s | %d | %.0f | %.1f | %.1f | %s | %s | %.1f |%n",
        webhook,
        clients,
        creates / seconds,
        percentile(sorted, 0.50),
        percentile(sorted, 0.99),
        webhook.equals("off")
            ? ""
            : String.format("%.1f", calls.since(Mean.webhookCalls(metricsAfter, called))),
        operator.map(o -> String.format("%.1f", decisions.since(Mean.decisions(o)))).orElse(""),
        1000 * cpu / creates);
    client.namespaces().withName(namespace).delete();
    client
        .namespaces()
        .withName(namespace)
        .waitUntilCondition(n -> n == null, 120, TimeUnit.SECONDS);
  }

  /** The CPU time the API server had used since it started, as its {@code metrics} say. */
  private static double apiServerCpuSeconds(String metrics) {
    for (String line : metrics.split("\n")) {
      if (line.startsWith("process_cpu_seconds_total ")) {
        return Double.parseDouble(line.substring(line.indexOf(' ') + 1));
      }
    }
    throw new IllegalStateException("the API server's /metrics has no process_cpu_seconds_total");
  }

  /** A sum and a count of durations in seconds, read twice to give the mean between, in ms. */
  private record Mean(double sum, double count) {
    private static final Pattern WEBHOOK_SERIES =
        Pattern.compile(
            "^apiserver_admission_webhook_admission_duration_seconds_(sum|count)\\{[^}]*\\}"
                + " (\\S+)$");

    /**
     * The API server's calls so far to the webhook named {@code name} (KubeVirt's own webhooks are
     * called too, for the VMs and VMIs the operator's servers make).
     */
    static Mean webhookCalls(String metrics, String name) {
      double sum = 0;
      double count = 0;
      for (String line : metrics.split("\n")) {
        Matcher matcher = WEBHOOK_SERIES.matcher(line);
        if (matcher.matches() && line.contains("name=\"" + name + "\"")) {
          if (matcher.group(1).equals("sum")) {
            sum += Double.parseDouble(matcher.group(2));
          } else {
            count += Double.parseDouble(matcher.group(2));
          }
        }
      }
      return new Mean(sum, count);
    }

    static Mean decisions(OperatorProcess operator) {
      return new Mean(
          operator.counter("nimbus_admission_latency_seconds_sum"),
          operator.counter("nimbus_admission_latency_seconds_count"));
    }

    double since(Mean later) {
      double calls = later.count - count;
      return calls == 0 ? 0 : 1000 * (later.sum - sum) / calls;
    }
  }

  private static String namespace(String webhook, int clients) {
    return "bench-" + webhook + "-" + clients;
  }

  private static double percentile(List<Long> sorted, double p) {
    int index = (int) Math.ceil(p * sorted.size()) - 1;
    return sorted.get(Math.max(0, index)) / 1e6;
  }

  private static VirtualServer server(String namespace, String name) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(namespace).build());
    server.setSpec(
        new VirtualServerSpec(
            "bench/image:1", "bench.tiny", 1, 1, null, null, null, POOL, true, false));
    return server;
  }

  private static void setUp(KubernetesClient client) {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName("nimbus-bench").endMetadata().build())
        .serverSideApply();
    for (int i = 0; i < NODES; i++) {
      client
          .nodes()
          .resource(
              Fixtures.kvmNode("bench-" + i, Map.of("nimbus-bench/pool", "bench"), "16", "64Gi"))
          .serverSideApply();
    }
    client.resource(Fixtures.instanceType("bench.tiny", 1, "1Mi")).serverSideApply();
    client.resource(Fixtures.serverPool(POOL, "nimbus-bench/pool", "bench")).serverSideApply();
  }
}
