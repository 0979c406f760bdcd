package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.nimbus.allocation.Amounts;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevisionSpec;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.inventory.Catalog;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.ReservedAt;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.webhook.AdmissionDecision.Decision;
import dev.nimbus.webhook.AdmissionDecision.Reserve;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The admission decision without a cluster: a fixed catalog of two KVM nodes of 8 CPUs and 32Gi in
 * the pool "kvm" (ratio 1), the instance type "small" (2 vCPUs, 4Gi), and ledgers in memory. Each
 * instance also holds its KubeVirt launcher's overhead (6m CPU among it): three fit on a node.
 */
class AdmissionDecisionTest {
  private static final KubernetesSerialization JSON = new KubernetesSerialization();
  private static final CapacityPool POOL = Fixtures.serverPool("kvm", "group", "kvm");
  private static final Catalog CATALOG =
      new FixedCatalog(
          List.of(
              Fixtures.kvmNode("kvm-0", Map.of("group", "kvm"), "8", "32Gi"),
              Fixtures.kvmNode("kvm-1", Map.of("group", "kvm"), "8", "32Gi")),
          List.of(POOL),
          List.of(Fixtures.instanceType("small", 2, "4Gi")),
          Set.of());

  private static final String NOT_SERVED = "elsewhere";

  // Every create here may take the whole pool; the share has its own test.
  private final AdmissionDecision decisions =
      new AdmissionDecision(JSON, CATALOG, workload -> Optional.empty(), 1.0);

  /**
   * A namespaced install serves only its namespaces: a create elsewhere (past a webhook
   * configuration edited by hand) reserves nothing and says why.
   */
  @Test
  void aCreateInANamespaceNotServedIsRefusedAndReservesNothing() {
    var request = create(server("web", "small", 1, 1));
    var elsewhere =
        new AdmissionReviews.Request(
            request.uid(),
            request.kind(),
            request.operation(),
            NOT_SERVED,
            request.name(),
            false,
            request.object(),
            null);

    var decision = (Decision) decisions.decide(elsewhere);

    assertThat(decision.allowed()).isFalse();
    assertThat(decision.code()).isEqualTo(403);
    assertThat(decision.message())
        .isEqualTo(
            "namespace elsewhere is not one this Nimbus serves (nimbus.watch-namespaces): its"
                + " VirtualServers would never run");
  }

  /**
   * The API server calls the webhook before it finds a name taken: a create of a stored name is
   * refused as the API server would refuse it, and asks for no room.
   */
  @Test
  void aCreateOfANameStoredAlreadyIsRefusedAndReservesNothing() {
    Catalog catalog =
        new FixedCatalog(
            CATALOG.nodes(), CATALOG.pools(), CATALOG.instanceTypes(), Set.of("uid-taken"));
    var decision =
        (Decision)
            new AdmissionDecision(JSON, catalog, workload -> Optional.empty(), 1.0)
                .decide(create(server("taken", "small", 1, 1)));

    assertThat(decision.allowed()).isFalse();
    assertThat(decision.code()).isEqualTo(409);
    assertThat(decision.message())
        .isEqualTo("VirtualServer \"taken\" already exists in namespace ns; nothing was reserved");
  }

  @Test
  void aCreateThatNamesKnownReferencesAsksForRoomInItsPool() {
    var outcome = decisions.decide(create(server("web", "small", 1, 3)));

    assertThat(outcome).isInstanceOf(Reserve.class);
    Reserve reserve = (Reserve) outcome;
    assertThat(reserve.pool().getMetadata().getName()).isEqualTo("kvm");
    assertThat(reserve.demand().minCount()).isEqualTo(1);
    assertThat(reserve.demand().maxCount()).isEqualTo(3);
    var change =
        decisions.reserve(
            reserve, Ledger.empty("kvm"), ReservedAt.onThisReplica(Instant.EPOCH), "Admitted");
    assertThat(change.next().orElseThrow().entry("uid-web").count()).isEqualTo(3);
    assertThat(change.result().allowed()).isTrue();
  }

  @Test
  void aPoolWithoutRoomIsRefusedWithTheNumbersThatDecided() {
    // Three per node: with their launchers' overhead (6m CPU each) a fourth does not fit.
    Reserve first = (Reserve) decisions.decide(create(server("first", "small", 6, 6)));
    Ledger full =
        decisions
            .reserve(
                first, Ledger.empty("kvm"), ReservedAt.onThisReplica(Instant.EPOCH), "Admitted")
            .next()
            .orElseThrow();

    Reserve second = (Reserve) decisions.decide(create(server("second", "small", 1, 1)));
    var change =
        decisions.reserve(second, full, ReservedAt.onThisReplica(Instant.EPOCH), "Admitted");

    assertThat(change.next()).as("nothing is written for a refusal").isEmpty();
    Decision decision = change.result();
    assertThat(decision.code()).isEqualTo(403);
    assertThat(decision.reason()).isEqualTo("NoNodeFits");
    assertThat(decision.message())
        .isEqualTo(
            "pool \"kvm\": cpu asked 2.006 per instance, but the most free on any one node is 1.982"
                + " (cpu free 3.964 of 16 = 16 physical × 1, spread over several nodes)");
  }

  @Test
  void fewerThanMaxCountIsAllowedWithAWarning() {
    Reserve reserve = (Reserve) decisions.decide(create(server("many", "small", 1, 10)));
    var change =
        decisions.reserve(
            reserve, Ledger.empty("kvm"), ReservedAt.onThisReplica(Instant.EPOCH), "Admitted");

    Decision decision = change.result();
    assertThat(decision.allowed()).isTrue();
    assertThat(decision.warnings())
        .containsExactly("pool \"kvm\" has room for 6 of the 10 asked; VirtualServer many runs 6");
  }

  /**
   * A namespace's creates not stored yet hold at most their share of the pool (half here, of 16
   * vCPU): past it a create is answered 429 and reserves nothing; stored workloads and other
   * namespaces do not count against it, also when the ledger is read back whole and a create is
   * stored after it was first counted.
   */
  @Test
  void aNamespacesCreatesNotStoredYetHoldAtMostTheirShareOfThePool() {
    Set<String> stored = new HashSet<>(Set.of("uid-stored"));
    Catalog catalog =
        new FixedCatalog(CATALOG.nodes(), CATALOG.pools(), CATALOG.instanceTypes(), stored);
    AdmissionDecision halves =
        new AdmissionDecision(JSON, catalog, workload -> Optional.empty(), 0.5);
    Ledger ledger = Ledger.empty("kvm");
    for (String name : List.of("stored", "ghost-1", "ghost-2")) {
      // Each was decided while it was not stored yet; only "stored" was stored after.
      // Five instances in all: a sixth still fits the pool (three per node with their overhead).
      int count = name.equals("stored") ? 1 : 2;
      Reserve reserve = (Reserve) decisions.decide(create(server(name, "small", count, count)));
      ledger =
          halves
              .reserve(reserve, ledger, ReservedAt.onThisReplica(Instant.EPOCH), "Admitted")
              .next()
              .orElseThrow();
    }

    Reserve third = (Reserve) halves.decide(create(server("ghost-3", "small", 1, 1)));
    var refused =
        halves.reserve(third, ledger, ReservedAt.onThisReplica(Instant.EPOCH), "Admitted");
    assertThat(refused.next()).isEmpty();
    assertThat(refused.result().code()).isEqualTo(429);
    assertThat(refused.result().message())
        .startsWith(
            "namespace \"ns\" would hold 10 cpu of pool \"kvm\" for creates not stored yet, past"
                + " its share of 8 (0.5 of 16)")
        .endsWith("retry the request");
    // Read back whole, as a commit round reads the shards: the same answer.
    Ledger read = new Ledger("kvm", ledger.entries());
    assertThat(
            halves
                .reserve(third, read, ReservedAt.onThisReplica(Instant.EPOCH), "Admitted")
                .result()
                .code())
        .isEqualTo(429);
    stored.add("uid-ghost-1");
    assertThat(
            halves
                .reserve(third, read, ReservedAt.onThisReplica(Instant.EPOCH), "Admitted")
                .result()
                .allowed())
        .as("ghost-1 stored since: 6 cpu of 8 with ghost-3")
        .isTrue();
    stored.remove("uid-ghost-1");

    VirtualServer whole = server("whole", "small", 6, 6);
    whole.getMetadata().setNamespace("fresh");
    Reserve large = (Reserve) halves.decide(create(whole));
    assertThat(
            halves
                .reserve(
                    large, Ledger.empty("kvm"), ReservedAt.onThisReplica(Instant.EPOCH), "Admitted")
                .result()
                .allowed())
        .as("one create as large as the pool, in a namespace that holds nothing unconfirmed")
        .isTrue();

    VirtualServer elsewhere = server("other", "small", 1, 1);
    elsewhere.getMetadata().setNamespace("other");
    Reserve other = (Reserve) halves.decide(create(elsewhere));
    assertThat(
            halves
                .reserve(other, ledger, ReservedAt.onThisReplica(Instant.EPOCH), "Admitted")
                .result()
                .allowed())
        .as("another namespace")
        .isTrue();
  }

  @Test
  void anUnknownInstanceTypeIsRefusedAtItsField() {
    var outcome = decisions.decide(create(server("web", "huge", 1, 1)));

    Decision decision = (Decision) outcome;
    assertThat(decision.code()).isEqualTo(422);
    assertThat(decision.causes())
        .singleElement()
        .satisfies(cause -> assertThat(cause.path()).isEqualTo("spec.instanceType"));
    assertThat(decision.message())
        .contains("InstanceType \"huge\" does not exist; available: small");
  }

  /**
   * A ContainerTask that names a registered revision ({@code family:revision}) asks for that
   * revision's size; one that names a revision not registered is refused at its field.
   */
  @Test
  void aTaskNamingARegisteredRevisionAsksForItsSizeAndAnUnknownOneIsRefused() {
    CapacityPool tasks = Fixtures.serverPool("tasks", "group", "plain");
    tasks.setSpec(
        new CapacityPoolSpec(
            tasks.getSpec().nodeSelector(),
            tasks.getSpec().ratios(),
            tasks.getSpec().reserved(),
            List.of(CapacityPoolSpec.WorkloadKind.ContainerTask),
            null,
            null));
    TaskDefinitionRevision revision = new TaskDefinitionRevision();
    revision.setMetadata(
        new ObjectMetaBuilder()
            .withName(Names.taskDefinitionRevision("Hello_World", 1))
            .withNamespace("ns")
            .build());
    revision.setSpec(
        new TaskDefinitionRevisionSpec(
            1,
            new TaskDefinition(
                "Hello_World",
                2048,
                4096,
                List.of(
                    new ContainerDefinition(
                        "app", "busybox:1.36", null, null, null, true, null)))));
    AdmissionDecision decided =
        new AdmissionDecision(
            JSON,
            new FixedCatalog(
                List.of(Fixtures.plainNode("plain-0", Map.of("group", "plain"), "8", "32Gi")),
                List.of(tasks),
                List.of(),
                Set.of(),
                List.of(revision)),
            workload -> Optional.empty(),
            1.0);

    var named = decided.decide(create(taskNaming("run", "Hello_World:1")));
    var unknown = decided.decide(create(taskNaming("other", "Hello_World:2")));
    var otherCase = decided.decide(create(taskNaming("third", "hello-world:1")));

    assertThat(named).isInstanceOf(Reserve.class);
    assertThat(((Reserve) named).demand().perInstance()).isEqualTo(Amounts.of(2_000, 4L << 30, 0));
    for (var refused : List.of(unknown, otherCase)) {
      Decision decision = (Decision) refused;
      assertThat(decision.code()).isEqualTo(422);
      assertThat(decision.causes())
          .singleElement()
          .satisfies(cause -> assertThat(cause.path()).isEqualTo("spec.taskDefinitionRef"));
      assertThat(decision.message()).contains("is not registered in namespace ns");
    }
  }

  private static ContainerTask taskNaming(String name, String ref) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace("ns")
            .withUid("uid-" + name)
            .withGeneration(1L)
            .build());
    task.setSpec(
        new ContainerTaskSpec(
            "tasks", ContainerTaskSpec.LaunchType.FARGATE, null, ref, 1, "LATEST", null));
    return task;
  }

  @Test
  void aScaleDownPassesAlthoughItsKeyPairIsGone() {
    VirtualServer before = server("web", "small", 1, 3);
    before.setSpec(withKey(before.getSpec(), "gone"));
    VirtualServer after = server("web", "small", 1, 1);
    after.setSpec(withKey(after.getSpec(), "gone"));

    var outcome = decisions.decide(update(after, before));

    assertThat(outcome).isEqualTo(Decision.allow("Unchanged", List.of()));
  }

  @Test
  void aProtectedServerIsNotDeleted() {
    VirtualServer protectedServer = server("web", "small", 1, 1);
    var spec = protectedServer.getSpec();
    protectedServer.setSpec(
        new VirtualServerSpec(spec.image(), "small", 1, 1, null, null, null, "kvm", true, true));

    Decision decision =
        (Decision)
            decisions.decide(
                new AdmissionReviews.Request(
                    "r",
                    "VirtualServer",
                    "DELETE",
                    "ns",
                    "web",
                    false,
                    null,
                    tree(protectedServer)));

    assertThat(decision.code()).isEqualTo(403);
    assertThat(decision.reason()).isEqualTo("TerminationProtection");
  }

  @Test
  void anUpdateWithoutItsStoredObjectIsABadRequest() {
    Decision decision =
        (Decision)
            decisions.decide(
                new AdmissionReviews.Request(
                    "r",
                    "VirtualServer",
                    "UPDATE",
                    "ns",
                    "web",
                    false,
                    tree(server("web", "small", 1, 2)),
                    null));

    assertThat(decision.code()).isEqualTo(400);
    assertThat(decision.message()).isEqualTo("request.oldObject is missing");
  }

  /**
   * Found by WebhookFuzzIT: an UPDATE whose object has no uid (the API server always sends one)
   * failed with a NullPointerException and was answered 500.
   */
  @Test
  void anUpdateOfAnObjectWithoutUidIsABadRequest() {
    VirtualServer old = server("web", "small", 1, 1);
    VirtualServer changed = server("web", "small", 1, 2);
    changed.getMetadata().setUid(null);
    old.getMetadata().setUid(null);

    Decision decision = (Decision) decisions.decide(update(changed, old));

    assertThat(decision.code()).isEqualTo(400);
    assertThat(decision.message()).isEqualTo("request.object.metadata.uid is missing");
  }

  @Test
  void anObjectWithoutItsRequiredFieldsIsABadRequest() {
    VirtualServer server = server("web", "small", 1, 1);
    server.setSpec(
        new VirtualServerSpec(null, "small", 1, 1, null, null, null, "kvm", true, false));

    Decision decision = (Decision) decisions.decide(create(server));

    assertThat(decision.code()).isEqualTo(400);
    assertThat(decision.message())
        .isEqualTo("request.object.spec.image is missing; the schema requires it");
  }

  private static VirtualServer server(String name, String type, int min, int max) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace("ns")
            .withUid("uid-" + name)
            .withGeneration(1L)
            .build());
    server.setSpec(
        new VirtualServerSpec(
            "quay.io/containerdisks/fedora:40",
            type,
            min,
            max,
            null,
            null,
            null,
            "kvm",
            true,
            false));
    return server;
  }

  private static VirtualServerSpec withKey(VirtualServerSpec spec, String key) {
    return new VirtualServerSpec(
        spec.image(),
        spec.instanceType(),
        spec.minCount(),
        spec.maxCount(),
        key,
        spec.securityGroups(),
        spec.userData(),
        spec.pool(),
        spec.running(),
        spec.terminationProtection());
  }

  /** The review of a create of {@code workload} (a VirtualServer or a ContainerTask) in ns. */
  private static AdmissionReviews.Request create(HasMetadata workload) {
    return new AdmissionReviews.Request(
        "r",
        workload.getKind(),
        "CREATE",
        "ns",
        workload.getMetadata().getName(),
        false,
        tree(workload),
        null);
  }

  private static AdmissionReviews.Request update(VirtualServer server, VirtualServer old) {
    return new AdmissionReviews.Request(
        "r",
        "VirtualServer",
        "UPDATE",
        "ns",
        server.getMetadata().getName(),
        false,
        tree(server),
        tree(old));
  }

  private static JsonNode tree(Object object) {
    return JSON.convertValue(object, JsonNode.class);
  }

  /** A catalog of fixed lists, and no key pairs or security groups. */
  private record FixedCatalog(
      List<Node> nodes,
      List<CapacityPool> pools,
      List<InstanceType> types,
      Set<String> storedUids,
      List<TaskDefinitionRevision> revisions)
      implements Catalog {
    FixedCatalog(
        List<Node> nodes, List<CapacityPool> pools, List<InstanceType> types, Set<String> uids) {
      this(nodes, pools, types, uids, List.of());
    }

    @Override
    public boolean serves(String namespace) {
      return !NOT_SERVED.equals(namespace);
    }

    @Override
    public Optional<TaskDefinitionRevision> taskDefinitionRevision(String namespace, String name) {
      return revisions.stream()
          .filter(r -> r.getMetadata().getNamespace().equals(namespace))
          .filter(r -> r.getMetadata().getName().equals(name))
          .findFirst();
    }

    @Override
    public Optional<String> storedUid(String kind, String namespace, String name) {
      return storedUids.stream().filter(("uid-" + name)::equals).findFirst();
    }

    @Override
    public Optional<Node> node(String name) {
      return nodes.stream().filter(n -> n.getMetadata().getName().equals(name)).findFirst();
    }

    @Override
    public Optional<CapacityPool> pool(String name) {
      return pools.stream().filter(p -> p.getMetadata().getName().equals(name)).findFirst();
    }

    @Override
    public Optional<InstanceType> instanceType(String name) {
      return types.stream().filter(t -> t.getMetadata().getName().equals(name)).findFirst();
    }

    @Override
    public List<InstanceType> instanceTypes() {
      return types;
    }

    @Override
    public Optional<KeyPair> keyPair(String namespace, String name) {
      return Optional.empty();
    }

    @Override
    public boolean hasSecurityGroup(String namespace, String name) {
      return false;
    }
  }
}
