package dev.nimbus.bench;

import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.testing.ApiServerRequests;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.ServiceProxy;
import dev.nimbus.testing.StoredLedgers;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One-instance VirtualServers (1,000 unless told) across KWOK nodes (100 unless told), run by one
 * operator replica or more with the real virt-controller and the virt-handler stand-in. Measures,
 * in one run: the time from the first create until every server is Ready, whether the pool's ledger
 * then holds exactly what the stored servers were admitted, the operator's API writes per server
 * (from the API server's own request counters, by resource, so that the writes of KubeVirt, KWOK
 * and the scheduler are left out), each replica's peak resident memory, the time until every server
 * is deleted and its capacity returned, and as the yardstick the rate at which the same client
 * creates ConfigMaps on this API server. Run by {@code bench/servers.sh}.
 */
public final class ServerBenchmark {
  private static final String POOL = "bench-servers";
  private static final String OPERATOR_NAMESPACE = "nimbus-bench-servers";
  private static final String NAMESPACE = "bench-servers";
  private static final String YARDSTICK_NAMESPACE = "bench-yardstick";
  private static final int CLIENTS = BenchClients.THREADS;
  private static final int FIRST_WEBHOOK_PORT = 19544;

  private ServerBenchmark() {}

  public static void main(String[] args) {
    BenchMain.runThenExit(ServerBenchmark::run, args);
  }

  private static void run(String[] args) throws Exception {
    int servers = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    int replicas = args.length > 2 ? Integer.parseInt(args[2]) : 1;
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

    List<OperatorProcess> operators = new ArrayList<>();
    // With more than one replica the webhook is reached through a proxy that spreads connections
    // over them, as a Service does; the controllers run on the elected leader.
    ServiceProxy proxy = null;
    if (replicas > 1) {
      List<Integer> ports = new ArrayList<>();
      for (int r = 0; r < replicas; r++) {
        ports.add(FIRST_WEBHOOK_PORT + r);
      }
      proxy = new ServiceProxy(ports);
    }
    String webhookUrl = "https://127.0.0.1:" + (proxy == null ? FIRST_WEBHOOK_PORT : proxy.port());
    for (int r = 0; r < replicas; r++) {
      operators.add(
          OperatorProcess.start(
              "bench-servers-operator-" + r,
              OperatorOptions.replica(
                  OPERATOR_NAMESPACE, FIRST_WEBHOOK_PORT + r, webhookUrl, "nimbus-bench-servers")));
    }
    SharedIndexInformer<VirtualServer> watched =
        client.resources(VirtualServer.class).inNamespace(NAMESPACE).inform();
    try {
      Thread.sleep(3000); // the API server picks up the new webhook configuration
      Map<String, Double> before = operatorWrites(client);
      long start = System.nanoTime();
      double createRate = BenchClients.createAll(client, servers, i -> server("vs-" + i));
      double createdAt = (System.nanoTime() - start) / 1e9;
      long[] peakSampled = new long[replicas];
      int ready = 0;
      long lastProgress = start;
      long deadline = start + (long) ((1800 + 0.3 * servers) * 1e9);
      while (ready < servers) {
        Thread.sleep(1000);
        ready = countReady(watched.getStore().list());
        for (int r = 0; r < replicas; r++) {
          // A replica that lost its lease has exited, as it should; the others go on.
          if (operators.get(r).isRunning()) {
            peakSampled[r] = Math.max(peakSampled[r], operators.get(r).residentKiB()[0]);
          }
        }
        if (System.nanoTime() - lastProgress > 30e9) {
          lastProgress = System.nanoTime();
          System.out.printf(
              "  %.0f s: %d stored, %d Ready%n",
              (lastProgress - start) / 1e9, watched.getStore().list().size(), ready);
          System.out.flush();
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "only "
                  + ready
                  + " of "
                  + servers
                  + " Ready after "
                  + (deadline - start) / 1e9
                  + " s");
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
      System.out.printf(
          "servers: %d on %d KWOK nodes, %d client threads, %d operator replica(s)%n",
          servers, nodes, CLIENTS, replicas);
      System.out.printf("yardstick: ConfigMap creates by the same client: %.0f/s%n", yardstick);
      System.out.printf(
          "VirtualServer creates (webhook on): %.0f/s, all stored after %.1f s%n",
          createRate, createdAt);
      System.out.printf("all Ready after %.1f s from the first create%n", allReady);
      int held = ledgerHeld(client);
      System.out.printf(
          "ledger: %d instance(s) held for %d stored server(s) of one instance%s%n",
          held, servers, held == servers ? "" : " -- NOT EQUAL");
      for (int r = 0; r < replicas; r++) {
        if (!operators.get(r).isRunning()) {
          System.out.printf(
              "operator replica %d exited during the run (code %d; its log says why):"
                  + " highest sampled resident memory %d MiB%n",
              r, operators.get(r).exitCode(), peakSampled[r] / 1024);
          continue;
        }
        long[] memory = operators.get(r).residentKiB();
        System.out.printf(
            "operator replica %d resident memory: peak %d MiB (VmHWM), highest sampled %d MiB,"
                + " when all were Ready %d MiB%n",
            r, memory[1] / 1024, peakSampled[r] / 1024, memory[0] / 1024);
      }
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
      watched.close();
      operators.forEach(OperatorProcess::close);
      if (proxy != null) {
        proxy.close();
      }
      tearDown(client, nodes);
    }
  }

  private static int countReady(List<VirtualServer> servers) {
    return (int)
        servers.stream()
            .filter(
                s ->
                    s.getStatus() != null
                        && s.getStatus().conditions() != null
                        && s.getStatus().conditions().stream()
                            .anyMatch(
                                c -> c.getType().equals("Ready") && c.getStatus().equals("True")))
            .count();
  }

  /** The instances the pool's stored ledger holds, over all its entries. */
  private static int ledgerHeld(KubernetesClient client) {
    return StoredLedgers.read(client, OPERATOR_NAMESPACE, POOL).entries().values().stream()
        .mapToInt(entry -> entry.count())
        .sum();
  }

  private static boolean ledgerEmpty(KubernetesClient client) {
    return StoredLedgers.read(client, OPERATOR_NAMESPACE, POOL).entries().isEmpty();
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
    for (ApiServerRequests.Series series : ApiServerRequests.read(client).series()) {
      String verb = series.label("verb");
      if (!List.of("POST", "PUT", "PATCH", "APPLY", "DELETE").contains(verb)) {
        continue;
      }
      String resource = series.label("resource");
      String subresource = series.label("subresource");
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
        writes.merge(key, series.count(), Double::sum);
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
