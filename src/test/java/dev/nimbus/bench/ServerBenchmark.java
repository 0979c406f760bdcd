package dev.nimbus.bench;

import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * 1,000 one-instance VirtualServers across 100 KWOK nodes, run by one operator replica with the
 * real virt-controller and the virt-handler stand-in. Measures, in one run: the time from the first
 * create until every server is Ready, the operator's API writes per server (from the API server's
 * own request counters, by resource, so that the writes of KubeVirt, KWOK and the scheduler are
 * left out), the operator's peak resident memory, the time until every server is deleted and its
 * capacity returned, and as the yardstick the rate at which the same client creates ConfigMaps on
 * this API server. Run by {@code bench/servers.sh}.
 */
public final class ServerBenchmark {
  private static final String POOL = "bench-servers";
  private static final String OPERATOR_NAMESPACE = "nimbus-bench-servers";
  private static final String NAMESPACE = "bench-servers";
  private static final String YARDSTICK_NAMESPACE = "bench-yardstick";
  private static final int CLIENTS = BenchClients.THREADS;
  private static final Pattern SERIES =
      Pattern.compile("^apiserver_request_total\\{([^}]*)\\} (\\S+)$");

  private ServerBenchmark() {}

  public static void main(String[] args) throws Exception {
    try {
      run(args);
    } finally {
      System.out.flush();
      System.exit(0);
    }
  }

  private static void run(String[] args) throws Exception {
    int servers = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    KubernetesClient client = LocalCluster.client();
    setUp(client, nodes);
    double yardstick =
        BenchClients.createAll(
            client,
            servers,
            i ->
                new ConfigMapBuilder()
                    .withNewMetadata()
                    .withName("cm-" + i)
                    .withNamespace(YARDSTICK_NAMESPACE)
                    .endMetadata()
                    .addToData("key", "value")
                    .build());
    client.namespaces().withName(YARDSTICK_NAMESPACE).delete();

    OperatorProcess operator =
        OperatorProcess.start(
            "bench-servers-operator",
            Map.of(
                "quarkus.http.port", "0",
                "nimbus.namespace", OPERATOR_NAMESPACE,
                "nimbus.webhook.host", "127.0.0.1",
                "nimbus.webhook.port", "19544",
                "nimbus.webhook.url", "https://127.0.0.1:19544",
                "nimbus.webhook.extra-hosts", "127.0.0.1",
                "nimbus.webhook.configuration-name", "nimbus-bench-servers"));
    try {
      Thread.sleep(3000); // the API server picks up the new webhook configuration
      Map<String, Double> before = operatorWrites(client);
      long start = System.nanoTime();
      double createRate = BenchClients.createAll(client, servers, i -> server("vs-" + i));
      double createdAt = (System.nanoTime() - start) / 1e9;
      long peakSampled = 0;
      int ready = 0;
      while (ready < servers) {
        Thread.sleep(1000);
        ready = countReady(client);
        peakSampled = Math.max(peakSampled, operator.residentKiB()[0]);
        if ((System.nanoTime() - start) / 1e9 > 1800) {
          throw new IllegalStateException("only " + ready + " of " + servers + " Ready in 30 min");
        }
      }
      double allReady = (System.nanoTime() - start) / 1e9;
      Thread.sleep(5000); // let trailing status writes land before counting
      Map<String, Double> after = operatorWrites(client);
      after.put(
          "events POST",
          (double)
              client.v1().events().inNamespace(NAMESPACE).list().getItems().stream()
                  .filter(e -> "nimbus-operator".equals(e.getReportingComponent()))
                  .count());
      long[] memory = operator.residentKiB();
      System.out.printf(
          "servers: %d on %d KWOK nodes, %d client threads%n", servers, nodes, CLIENTS);
      System.out.printf("yardstick: ConfigMap creates by the same client: %.0f/s%n", yardstick);
      System.out.printf(
          "VirtualServer creates (webhook on): %.0f/s, all stored after %.1f s%n",
          createRate, createdAt);
      System.out.printf("all Ready after %.1f s from the first create%n", allReady);
      System.out.printf(
          "operator resident memory: peak %d MiB (VmHWM), highest sampled %d MiB, when all were"
              + " Ready %d MiB%n",
          memory[1] / 1024, peakSampled / 1024, memory[0] / 1024);
      double total = 0;
      System.out.println("operator API writes from the first create until all Ready, by resource:");
      for (var entry : after.entrySet()) {
        double delta = entry.getValue() - before.getOrDefault(entry.getKey(), 0.0);
        if (entry.getKey().equals("virtualservers POST")) {
          delta -= servers; // the benchmark's own creates
        }
        if (delta > 0) {
          System.out.printf(
              "  %-40s %6.0f  (%.2f per server)%n", entry.getKey(), delta, delta / servers);
          total += delta;
        }
      }
      System.out.printf("  %-40s %6.0f  (%.2f per server)%n", "total", total, total / servers);
      System.out.flush();

      // One delete per server, as kubectl delete would send them: each passes the webhook.
      long deleteStart = System.nanoTime();
      BenchClients.deleteAll(client, servers, i -> server("vs-" + i));
      while (!client
              .resources(VirtualServer.class)
              .inNamespace(NAMESPACE)
              .list()
              .getItems()
              .isEmpty()
          || !ledgerEmpty(client)) {
        Thread.sleep(1000);
      }
      System.out.printf(
          "all deleted and their capacity returned %.1f s after the deletes began%n",
          (System.nanoTime() - deleteStart) / 1e9);
    } finally {
      operator.close();
      tearDown(client, nodes);
    }
  }

  private static int countReady(KubernetesClient client) {
    return (int)
        client.resources(VirtualServer.class).inNamespace(NAMESPACE).list().getItems().stream()
            .filter(
                s ->
                    s.getStatus() != null
                        && s.getStatus().conditions() != null
                        && s.getStatus().conditions().stream()
                            .anyMatch(
                                c -> c.getType().equals("Ready") && c.getStatus().equals("True")))
            .count();
  }

  private static boolean ledgerEmpty(KubernetesClient client) {
    return dev.nimbus.testing.StoredLedgers.read(client, OPERATOR_NAMESPACE, POOL)
        .entries()
        .isEmpty();
  }

  /**
   * The API server's count of writes to the resources only the operator writes (and the benchmark's
   * VirtualServer creates, subtracted by the caller): VirtualMachines without their status (the
   * virt-controller writes that), VirtualServers and their status, core Events (the scheduler
   * records its own through events.k8s.io), ConfigMaps (the ledger), Secrets and NetworkPolicies.
   * Lease renewals are left out: KWOK renews one per node.
   */
  private static Map<String, Double> operatorWrites(KubernetesClient client) {
    Map<String, Double> writes = new HashMap<>();
    for (String line : client.raw("/metrics").split("\n")) {
      Matcher matcher = SERIES.matcher(line);
      if (!matcher.matches()) {
        continue;
      }
      Map<String, String> labels = new HashMap<>();
      for (String pair : matcher.group(1).split(",")) {
        int eq = pair.indexOf('=');
        labels.put(pair.substring(0, eq), pair.substring(eq + 2, pair.length() - 1));
      }
      String verb = labels.get("verb");
      if (!List.of("POST", "PUT", "PATCH", "APPLY", "DELETE").contains(verb)) {
        continue;
      }
      String resource = labels.get("resource");
      String subresource = labels.getOrDefault("subresource", "");
      // virt-controller writes each VirtualMachine too (a PATCH adding its finalizer, an update
      // adding its observed-API-version annotations), and the counters do not say who wrote: of
      // the VMs' writes, only the operator creates them in this run (it updates a VM only when its
      // server changes, which no server here does).
      boolean operators =
          (resource.equals("virtualmachines") && subresource.isEmpty() && verb.equals("POST"))
              || resource.equals("virtualservers")
              || resource.equals("configmaps")
              || resource.equals("secrets")
              || resource.equals("networkpolicies");
      if (operators) {
        String key = resource + (subresource.isEmpty() ? "" : "/" + subresource) + " " + verb;
        writes.merge(key, Double.parseDouble(matcher.group(2)), Double::sum);
      }
    }
    return writes;
  }

  private static VirtualServer server(String name) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NAMESPACE).build());
    server.setSpec(
        new VirtualServerSpec(
            "quay.io/containerdisks/fedora:40",
            "bench.small",
            1,
            1,
            null,
            null,
            null,
            POOL,
            true,
            false));
    return server;
  }

  private static void setUp(KubernetesClient client, int nodes) throws Exception {
    for (String namespace : List.of(OPERATOR_NAMESPACE, NAMESPACE, YARDSTICK_NAMESPACE)) {
      client
          .namespaces()
          .resource(
              new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .serverSideApply();
    }
    client.resource(Fixtures.instanceType("bench.small", 1, "1Gi")).serverSideApply();
    BenchPools.create(
        client,
        POOL,
        "bench-kvm",
        Map.of(),
        nodes,
        4.0,
        CapacityPoolSpec.WorkloadKind.VirtualServer);
  }

  private static void tearDown(KubernetesClient client, int nodes) {
    client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName("nimbus-bench-servers")
        .delete();
    // Servers left by a failed run lose their finalizer: no operator is left to honour it.
    for (VirtualServer left :
        client.resources(VirtualServer.class).inNamespace(NAMESPACE).list().getItems()) {
      client
          .resource(left)
          .edit(
              s -> {
                s.getMetadata().setFinalizers(List.of());
                return s;
              });
    }
    client.namespaces().withName(NAMESPACE).delete();
    BenchPools.delete(client, POOL, "bench-kvm", nodes);
  }
}
