package dev.nimbus.virtualserver;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.testing.Await;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.StoredLedgers;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The operator is killed with SIGKILL while 100 VirtualServers are being created and started again:
 * every server converges to one running VM, no VM is made twice, and the ledger holds exactly what
 * the stored servers were admitted.
 */
@ExtendWith(LocalCluster.class)
class VirtualServerRecoveryIT {
  static final String POOL = "it-recovery";
  static final String NAMESPACE = "nimbus-recovery-it";
  static final String TINY = "itvs.tiny";
  static final int SERVERS = 100;
  static final Map<String, String> OPERATOR =
      Map.of(
          "quarkus.http.port", "0",
          "nimbus.namespace", NAMESPACE,
          "nimbus.webhook.host", "127.0.0.1",
          "nimbus.webhook.port", "19943",
          "nimbus.webhook.url", "https://127.0.0.1:19943",
          "nimbus.webhook.extra-hosts", "127.0.0.1",
          "nimbus.webhook.configuration-name", "nimbus-recovery-it");
  private static OperatorProcess operator;

  @BeforeAll
  static void startOperator() {
    KubernetesClient client = LocalCluster.client();
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    StoredLedgers.delete(client, NAMESPACE, POOL);
    CapacityPool pool = new CapacityPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(POOL).build());
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels("nimbus.dev/node-group", "kvm").build(),
            new PoolRatios(8.0, 1.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(CapacityPoolSpec.WorkloadKind.VirtualServer),
            null,
            null));
    client.resource(pool).serverSideApply();
    client.resource(Fixtures.instanceType(TINY, 1, "512Mi")).serverSideApply();
    operator = OperatorProcess.start("it-recovery-operator", OPERATOR);
  }

  @AfterAll
  static void stopOperator() throws Exception {
    KubernetesClient client = LocalCluster.client();
    if (operator != null) {
      // The servers go while the operator still runs, so that their finalizers are honoured.
      client.resources(VirtualServer.class).inAnyNamespace().withLabel("it", "recovery").delete();
      Await.awaitTrue(
          () ->
              client
                  .resources(VirtualServer.class)
                  .inAnyNamespace()
                  .withLabel("it", "recovery")
                  .list()
                  .getItems()
                  .isEmpty(),
          120);
    }
    client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName("nimbus-recovery-it")
        .delete();
    if (operator != null) {
      operator.close();
    }
    client.resources(CapacityPool.class).withName(POOL).delete();
  }

  @Test
  void aKilledOperatorConvergesEveryServerWithoutDuplicatesOrLeaks(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    AtomicInteger refusedWhileDown = new AtomicInteger();
    AtomicInteger stored = new AtomicInteger();
    // Paced like a GitOps sync of many files, so that the kill lands while creates go on.
    ExecutorService creators = Executors.newFixedThreadPool(2);
    List<Future<?>> creates =
        IntStream.range(0, SERVERS)
            .mapToObj(
                i ->
                    creators.submit(
                        () -> {
                          createUntilStored(client, server(namespace, "vm-" + i), refusedWhileDown);
                          stored.incrementAndGet();
                          Thread.sleep(150);
                          return null;
                        }))
            .collect(Collectors.toList());
    Await.awaitTrue(
        () -> stored.get() >= SERVERS * 2 / 5 && vms(client, namespace).size() >= 10, 120);
    operator.stop(true);
    int vmsAtKill = vms(client, namespace).size();
    int storedAtKill = stored.get();
    // The API server retries a webhook that refuses connections for a few seconds, so creates
    // made meanwhile mostly wait for the new process rather than fail.
    operator = OperatorProcess.start("it-recovery-operator-restarted", OPERATOR);
    for (Future<?> create : creates) {
      create.get();
    }
    creators.shutdown();
    System.out.printf(
        "SIGKILL with %d servers stored and %d VMs created; %d creates refused while no webhook"
            + " answered%n",
        storedAtKill, vmsAtKill, refusedWhileDown.get());
    assertThat(storedAtKill).as("killed in the middle of the creates").isLessThan(SERVERS);

    var servers = client.resources(VirtualServer.class).inNamespace(namespace.name());
    long started = System.nanoTime();
    Await.awaitTrue(
        () ->
            servers.list().getItems().stream()
                    .filter(
                        s ->
                            s.getStatus() != null
                                && Integer.valueOf(1).equals(s.getStatus().readyCount()))
                    .count()
                == SERVERS,
        240);
    System.out.printf(
        "all %d servers ready %.1f s after the last create%n",
        SERVERS, (System.nanoTime() - started) / 1e9);

    List<VirtualMachine> vms = vms(client, namespace);
    assertThat(vms).hasSize(SERVERS);
    assertThat(vms.stream().map(vm -> vm.getMetadata().getName()).collect(Collectors.toSet()))
        .isEqualTo(
            IntStream.range(0, SERVERS)
                .mapToObj(i -> "vm-" + i + "-0")
                .collect(Collectors.toSet()));
    Set<String> uids =
        servers.list().getItems().stream()
            .map(s -> s.getMetadata().getUid())
            .collect(Collectors.toSet());
    // Reservations of creates that the kill cut off are released once their grace has passed.
    Await.awaitTrue(() -> ledgerOfNamespace(client, namespace).keySet().equals(uids), 60);
    long allocated =
        ledgerOfNamespace(client, namespace).values().stream()
            .flatMap(e -> e.placements().stream())
            .mapToLong(LedgerEntry.Placement::cpu)
            .sum();
    long admittedFromObjects =
        servers.list().getItems().stream()
            .mapToLong(s -> s.getStatus().admittedCount() * 1000L)
            .sum();
    assertThat(allocated).isEqualTo(admittedFromObjects).isEqualTo(SERVERS * 1000L);
  }

  private static void createUntilStored(
      KubernetesClient client, VirtualServer server, AtomicInteger refused)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
    while (true) {
      try {
        client.resource(server).create();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          return; // stored by an attempt whose answer was lost
        }
        if (System.nanoTime() > deadline) {
          throw e;
        }
        refused.incrementAndGet();
        Thread.sleep(500);
      }
    }
  }

  private static VirtualServer server(TestNamespace namespace, String name) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(namespace.name())
            .withLabels(Map.of("it", "recovery"))
            .build());
    server.setSpec(
        new VirtualServerSpec(
            "quay.io/containerdisks/fedora:40", TINY, 1, 1, null, null, null, POOL, true, false));
    return server;
  }

  private static List<VirtualMachine> vms(KubernetesClient client, TestNamespace namespace) {
    return client.resources(VirtualMachine.class).inNamespace(namespace.name()).list().getItems();
  }

  private static Map<String, LedgerEntry> ledgerOfNamespace(
      KubernetesClient client, TestNamespace namespace) {
    Ledger ledger = StoredLedgers.read(client, NAMESPACE, POOL);
    return ledger.entries().entrySet().stream()
        .filter(e -> namespace.name().equals(e.getValue().namespace()))
        .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
  }
}
