package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.ledger.LedgerStore.Change;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The ledger on the real API server, through the storage and commit production uses: its size is
 * not bounded by one object's, and a decision writes in proportion to what it changes, not to what
 * the pool holds.
 */
@ExtendWith(LocalCluster.class)
class LedgerStorageIT {
  private static final String POOL = "scale";
  private static final int NODES = 100;
  private static final Duration TIMEOUT = Duration.ofSeconds(8);

  @Test
  void aPoolHoldsMoreReservationsThanOneObjectCanStore(
      KubernetesClient client, TestNamespace namespace) {
    LedgerCommits commits = commits(client, namespace);
    // About 270 bytes each: 5,000 entries are past the 1 MiB that one ConfigMap may hold.
    int entries = 5_000;
    for (int first = 0; first < entries; first += 250) {
      int from = first;
      commits.change(POOL, ledger -> Change.write(withEntries(ledger, from, 250), true));
    }

    Ledger stored = commits(client, namespace).read(POOL);
    assertThat(stored.entries()).hasSize(entries);
    assertThat(stored.entry("w-4999").placements().get(0).node()).isEqualTo("node-99");
  }

  @Test
  void aDecisionWritesWhatItChangesNotWhatThePoolHolds(
      KubernetesClient client, TestNamespace namespace) {
    LedgerCommits commits = commits(client, namespace);
    for (int first = 0; first < 2_000; first += 250) {
      int from = first;
      commits.change(POOL, ledger -> Change.write(withEntries(ledger, from, 250), true));
    }
    Map<String, String> before = versions(client, namespace);

    commits.change(POOL, ledger -> Change.write(withEntries(ledger, 2_000, 1), true));

    Map<String, ConfigMap> after = maps(client, namespace);
    List<ConfigMap> written =
        after.values().stream()
            .filter(
                map ->
                    !map.getMetadata()
                        .getResourceVersion()
                        .equals(before.get(map.getMetadata().getName())))
            .toList();
    assertThat(written).as("objects written by a one-instance decision").hasSize(1);
    int bytes = written.get(0).getData().values().stream().mapToInt(value -> value.length()).sum();
    // 2,000 reservations over 100 nodes: 20 share the node of the new one.
    assertThat(bytes).as("bytes written by a one-instance decision").isLessThan(16 * 1024);
  }

  @Test
  void aConfirmedShardIsKnownAtOnceAndAnAbsentOneIsLostUntilItIsWritten(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    // More nodes than one list asks for: the confirmation reads them in several.
    int nodes = 230;
    try (ConfigMapLedgerStorage writer =
            new ConfigMapLedgerStorage(client, namespace.name(), TIMEOUT);
        ConfigMapLedgerStorage reader =
            new ConfigMapLedgerStorage(client, namespace.name(), TIMEOUT)) {
      Set<String> asked = new HashSet<>();
      for (int i = 0; i < nodes; i++) {
        String node = "node-" + i;
        writer.write(POOL, node, null, LedgerShards.encode(LedgerShards.Shard.empty(node)));
        asked.add(node);
      }
      asked.add("node-absent");

      reader.confirm(POOL, asked);

      assertThat(reader.shards(POOL)).hasSize(nodes);
      assertThat(reader.lostShards(POOL)).containsExactly("node-absent");
      writer.write(
          POOL, "node-absent", null, LedgerShards.encode(LedgerShards.Shard.empty("node-absent")));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!reader.lostShards(POOL).isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertThat(reader.lostShards(POOL)).as("lost until its shard is seen").isEmpty();
    }
  }

  /**
   * A first list of the shards that the API server refuses for a moment (as it does until a
   * replica's rights are bound, or when it drops the connection) is made again: the storage starts
   * once a list succeeds, rather than stopping the replica at the first refusal.
   */
  @Test
  void aFirstListOfTheShardsRefusedForAMomentIsMadeAgain(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String account = "ledger-reader";
    client
        .serviceAccounts()
        .inNamespace(namespace.name())
        .resource(
            new ServiceAccountBuilder().withNewMetadata().withName(account).endMetadata().build())
        .create();
    String token =
        client
            .serviceAccounts()
            .inNamespace(namespace.name())
            .withName(account)
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withExpirationSeconds(600L)
                    .endSpec()
                    .build())
            .getStatus()
            .getToken();
    Config admin = client.getConfiguration();
    Config asReader =
        new ConfigBuilder(Config.empty())
            .withMasterUrl(admin.getMasterUrl())
            .withCaCertData(admin.getCaCertData())
            .withCaCertFile(admin.getCaCertFile())
            .withOauthToken(token)
            .build();
    ScheduledExecutorService later = Executors.newSingleThreadScheduledExecutor();
    try (KubernetesClient reader = new KubernetesClientBuilder().withConfig(asReader).build()) {
      // Refused until then: the first list fails, and so may the next.
      later.schedule(
          () -> grantReading(client, namespace.name(), account), 1500, TimeUnit.MILLISECONDS);
      try (ConfigMapLedgerStorage storage =
          new ConfigMapLedgerStorage(reader, namespace.name(), TIMEOUT)) {
        assertThat(storage.shards(POOL)).isEmpty();
      }
    } finally {
      later.shutdownNow();
    }
  }

  private static void grantReading(KubernetesClient client, String namespace, String account) {
    client
        .rbac()
        .roles()
        .inNamespace(namespace)
        .resource(
            new RoleBuilder()
                .withNewMetadata()
                .withName(account)
                .endMetadata()
                .addNewRule()
                .withApiGroups("")
                .withResources("configmaps")
                .withVerbs("get", "list", "watch")
                .endRule()
                .build())
        .create();
    client
        .rbac()
        .roleBindings()
        .inNamespace(namespace)
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName(account)
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "Role", account)
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName(account)
                .withNamespace(namespace)
                .endSubject()
                .build())
        .create();
  }

  private static LedgerCommits commits(KubernetesClient client, TestNamespace namespace) {
    return new LedgerCommits(
        new ConfigMapLedgerStorage(client, namespace.name(), TIMEOUT),
        20,
        TIMEOUT,
        pool -> Set.of());
  }

  /**
   * {@code ledger} with {@code count} one-instance entries from {@code w-<first>}, node by node.
   */
  private static Ledger withEntries(Ledger ledger, int first, int count) {
    Ledger next = ledger;
    for (int i = first; i < first + count; i++) {
      next =
          next.with(
              new LedgerEntry(
                  "w-" + i,
                  "VirtualServer",
                  "tenant",
                  "server-" + i,
                  Instant.EPOCH.toString(),
                  1,
                  List.of(new LedgerEntry.Placement("node-" + (i % NODES), 500, 1L << 30, 0, null)),
                  1L));
    }
    return next;
  }

  private static Map<String, ConfigMap> maps(KubernetesClient client, TestNamespace namespace) {
    return client
        .configMaps()
        .inNamespace(namespace.name())
        .withLabel(Names.POOL_LABEL, POOL)
        .list()
        .getItems()
        .stream()
        .collect(Collectors.toMap(map -> map.getMetadata().getName(), map -> map));
  }

  private static Map<String, String> versions(KubernetesClient client, TestNamespace namespace) {
    return maps(client, namespace).entrySet().stream()
        .collect(
            Collectors.toMap(
                Map.Entry::getKey, e -> e.getValue().getMetadata().getResourceVersion()));
  }
}
