package dev.nimbus.virtualserver;

import static dev.nimbus.testing.Await.awaitTrue;
import static dev.nimbus.testing.Await.awaitTrueHolding;
import static dev.nimbus.testing.Await.createWhenReferencesKnown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.Samples;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.api.v1alpha1.VirtualServerStatus.InstanceStatus;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.kubevirt.VirtualMachineSpec;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.ControlPlaneBinaries;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LauncherPods;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.StoredLedgers;
import dev.nimbus.testing.TenantEdits;
import dev.nimbus.testing.TestNamespace;
import dev.nimbus.testing.TestWebhook;
import dev.nimbus.workload.Links;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * VirtualServers run by the operator on the local control plane, with KubeVirt's virt-api and
 * virt-controller: the seed's create_instances call, EC2's count semantics, stop, start, scale,
 * resize, termination protection and deletion. The pool is the three KVM nodes (16 cores each) at
 * CPU ratio 2: V = 96 cores, 32 per node.
 */
@ExtendWith(LocalCluster.class)
class VirtualServerIT {
  static final String POOL = "it-servers";
  static final String NAMESPACE = "nimbus-vsrv-it";
  static final String SMALL = "itvs.small";
  static final String MEDIUM = "itvs.medium";
  static final String BIG = "itvs.big";
  private static final String PUBLIC_KEY = Fixtures.PUBLIC_KEY;
  private static OperatorProcess operator;

  @BeforeAll
  static void startOperator() {
    KubernetesClient client = LocalCluster.client();
    StoredLedgers.delete(client, NAMESPACE, POOL);
    client.resource(pool()).serverSideApply();
    client.resource(Fixtures.instanceType(SMALL, 2, "4Gi")).serverSideApply();
    client.resource(Fixtures.instanceType(MEDIUM, 4, "8Gi")).serverSideApply();
    // One per node of 32 virtual cores: with its launcher's overhead (12m at ratio 2), 32 would not
    // fit.
    client.resource(Fixtures.instanceType(BIG, 31, "8Gi")).serverSideApply();
    operator =
        OperatorProcess.forTests(
            "it-vsrv-operator",
            NAMESPACE,
            19843,
            Map.of("nimbus.ledger.orphan-grace-period", "PT5S"));
  }

  @AfterAll
  static void stopOperator() {
    KubernetesClient client = LocalCluster.client();
    if (operator != null) {
      operator.close();
    }
    client.resources(CapacityPool.class).withName(POOL).delete();
  }

  /** Each test leaves the pool as it found it: every server deleted and its capacity returned. */
  @AfterEach
  void deleteServers(KubernetesClient client, TestNamespace namespace) throws Exception {
    var servers = client.resources(VirtualServer.class).inNamespace(namespace.name());
    for (VirtualServer server : servers.list().getItems()) {
      if (Boolean.TRUE.equals(server.getSpec().terminationProtection())) {
        change(client, server, spec -> copy(spec, spec.running(), spec.maxCount(), false));
      }
    }
    servers.delete();
    awaitTrue(() -> servers.list().getItems().isEmpty() && ledger(client).entries().isEmpty(), 60);
  }

  @Test
  void aSeedShapedServerRunsOnKvmNodesWithItsSecretsAndFirewall(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    long allocatedBefore = allocatedCpu(client);
    client.resource(keyPair(namespace)).create();
    client.resource(webGroup(namespace)).create();
    VirtualServer seed =
        server(
            namespace,
            "web",
            new VirtualServerSpec(
                "quay.io/containerdisks/fedora:40",
                SMALL,
                1,
                2,
                "deployer",
                List.of("web"),
                "#cloud-config\nruncmd:\n  - echo hello\n",
                POOL,
                true,
                false));
    createWhenReferencesKnown(client, seed);

    kubectl("wait", "--for=condition=Ready", "vsrv/web", "-n", namespace.name(), "--timeout=120s");

    VirtualServer ready = client.resource(seed).get();
    assertThat(ready.getStatus().desiredCount()).isEqualTo(2);
    assertThat(ready.getStatus().admittedCount()).isEqualTo(2);
    assertThat(ready.getStatus().readyCount()).isEqualTo(2);
    assertThat(ready.getStatus().instances())
        .hasSize(2)
        .allSatisfy(
            instance -> {
              assertThat(instance.instanceId()).matches("i-[0-9a-f]{17}");
              assertThat(instance.state()).isEqualTo("running");
              assertThat(instance.node()).startsWith("kvm-");
              assertThat(instance.privateIp()).isNotBlank();
            });
    assertThat(ready.getStatus().instances().stream().map(InstanceStatus::vmName))
        .containsExactly("web-0", "web-1");
    // 2 vCPUs at CPU ratio 2 request one core; 4Gi at memory ratio 1 request 4Gi; the launcher
    // pod that real virt-controller renders adds the overhead admission counted for it.
    assertThat(launchers(client, namespace, "web").stream().map(VirtualServerIT::placement))
        .hasSize(2)
        .allSatisfy(
            p ->
                assertThat(p)
                    .matches("kvm-[0-2] " + requests(2, 1_000, 4L << 30) + " secgroup=web"));
    Secret userData = client.secrets().inNamespace(namespace.name()).withName("web-userdata").get();
    assertThat(decode(userData, "userdata")).contains("echo hello");
    Secret key = client.secrets().inNamespace(namespace.name()).withName("web-ssh-key").get();
    assertThat(decode(key, "authorized-key")).isEqualTo(PUBLIC_KEY);
    VirtualMachine vm =
        client
            .resources(VirtualMachine.class)
            .inNamespace(namespace.name())
            .withName("web-0")
            .get();
    assertThat(vm.getSpec().template.spec.volumes.stream().filter(v -> v.cloudInitNoCloud != null))
        .singleElement()
        .satisfies(
            v -> assertThat(v.cloudInitNoCloud.userDataSecretRef.name).isEqualTo("web-userdata"));
    assertThat(vm.getSpec().template.spec.domain.cpu.cores).isEqualTo(2);
    NetworkPolicy policy =
        client
            .network()
            .networkPolicies()
            .inNamespace(namespace.name())
            .withName("web-vsrv-secgroups")
            .get();
    assertThat(policy.getSpec().getPodSelector().getMatchLabels())
        .containsEntry(Names.VIRTUAL_SERVER_LABEL, "web");
    assertThat(policy.getSpec().getIngress())
        .singleElement()
        .satisfies(
            rule -> {
              assertThat(rule.getPorts().get(0).getPort().getIntVal()).isEqualTo(80);
              assertThat(rule.getFrom().get(0).getIpBlock().getCidr()).isEqualTo("0.0.0.0/0");
            });
    assertThat(policy.getSpec().getEgress()).as("EC2's default egress: all").hasSize(1);
    assertThat(allocatedCpu(client) - allocatedBefore).isEqualTo(4000);
    assertThat(reasons(client, namespace)).contains("InstanceCreated");
    KeyPair deployer =
        client
            .resource(keyPair(namespace))
            .waitUntilCondition(
                k -> k.getStatus() != null && k.getStatus().fingerprint() != null,
                30,
                TimeUnit.SECONDS);
    assertThat(deployer.getStatus().fingerprint()).startsWith("SHA256:");
    assertThat(operator.gauge("nimbus_time_to_running_seconds_count", "kind=\"VirtualServer\""))
        .as("the time from create to running is measured")
        .isGreaterThanOrEqualTo(1);
  }

  @Test
  void countsFollowEc2RoomForThreeAdmitsThreeRoomForOneDenies(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualServer filler = server(namespace, "filler", spec(BIG, 2, 2));
    createWhenReferencesKnown(client, filler);
    VirtualServer wanted = server(namespace, "wanted", spec(BIG, 2, 5));

    assertThatThrownBy(() -> client.resource(wanted).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("InsufficientCapacity")
        .hasMessageContaining("pool \"" + POOL + "\"");

    client.resource(filler).delete();
    awaitTrue(() -> ledger(client).entries().isEmpty(), 60);
    client.resource(wanted).create();
    VirtualServer admitted =
        client
            .resource(wanted)
            .waitUntilCondition(
                s ->
                    s.getStatus() != null
                        && Integer.valueOf(3).equals(s.getStatus().admittedCount()),
                60,
                TimeUnit.SECONDS);
    assertThat(admitted.getStatus().desiredCount()).isEqualTo(5);
    assertThat(condition(admitted, "Admitted"))
        .isEqualTo("True: 3 of 5 instance(s) admitted in pool " + POOL);
    awaitTrue(() -> vms(client, namespace, "wanted").size() == 3, 30);
  }

  @Test
  void instancesKeepTheirAdmittedSizeAndFollowAScaleDownAfterTheirReferencesVanished(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String type = "itvs.replaced-" + namespace.name().substring(namespace.name().length() - 8);
    client.resource(Fixtures.instanceType(type, 2, "4Gi")).create();
    client.resource(keyPair(namespace)).create();
    VirtualServer server =
        server(
            namespace,
            "kept",
            new VirtualServerSpec(
                "quay.io/containerdisks/fedora:40",
                type,
                1,
                2,
                "deployer",
                null,
                null,
                POOL,
                true,
                false));
    try {
      createWhenReferencesKnown(client, server);
      awaitReady(client, server, 2);

      // The type is replaced by a bigger one of the same name: nothing admitted it.
      client.resources(InstanceType.class).withName(type).delete();
      awaitTrue(() -> client.resources(InstanceType.class).withName(type).get() == null, 30);
      client.resource(Fixtures.instanceType(type, 8, "16Gi")).create();
      Thread.sleep(5_000);
      assertThat(vms(client, namespace, "kept"))
          .hasSize(2)
          .allSatisfy(vm -> assertThat(vm.getSpec().template.spec.domain.cpu.cores).isEqualTo(2));
      assertThat(reasons(client, namespace)).doesNotContain("InstanceResized");

      // The key pair goes; a scale down and a stop still take effect.
      client.resources(KeyPair.class).inNamespace(namespace.name()).withName("deployer").delete();
      patchSpec(namespace, "kept", "{\"maxCount\":1}");
      awaitTrue(() -> vms(client, namespace, "kept").size() == 1, 30);
      patchSpec(namespace, "kept", "{\"running\":false}");
      awaitTrue(
          () ->
              vms(client, namespace, "kept").stream()
                  .allMatch(vm -> VirtualMachine.RUN_HALTED.equals(vm.getSpec().runStrategy)),
          30);
    } finally {
      client.resources(InstanceType.class).withName(type).delete();
    }
  }

  @Test
  void aUsersSecretOfTheSameNameIsNeverOverwrittenAdoptedOrDeleted(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    Secret mine =
        client
            .resource(
                new SecretBuilder()
                    .withNewMetadata()
                    .withName("mine-userdata")
                    .withNamespace(namespace.name())
                    .endMetadata()
                    .addToStringData("note", "the team's own secret")
                    .build())
            .create();
    VirtualServer server =
        server(
            namespace,
            "mine",
            new VirtualServerSpec(
                "quay.io/containerdisks/fedora:40",
                SMALL,
                1,
                1,
                null,
                null,
                "#cloud-config\n",
                POOL,
                true,
                false));
    createWhenReferencesKnown(client, server);

    VirtualServer clashing =
        client
            .resource(server)
            .waitUntilCondition(
                s ->
                    s.getStatus() != null
                        && s.getStatus().conditions() != null
                        && "False: Secret mine-userdata exists and was not created by Nimbus for this server; rename or delete it"
                            .equals(condition(s, "SecretsWritten")),
                30,
                TimeUnit.SECONDS);
    assertThat(condition(clashing, "Ready")).startsWith("False");
    assertThat(vms(client, namespace, "mine"))
        .as("no VM reads a Secret Nimbus did not write")
        .isEmpty();
    Secret after = client.resource(mine).get();
    assertThat(after.getMetadata().getResourceVersion())
        .isEqualTo(mine.getMetadata().getResourceVersion());
    assertThat(after.getMetadata().getOwnerReferences()).isEmpty();

    client.resource(server).delete();
    awaitTrue(() -> client.resource(server).get() == null, 60);
    Thread.sleep(2_000);
    assertThat(client.resource(mine).get()).as("the user's Secret outlives the server").isNotNull();
  }

  @Test
  void anUpdateThatAnotherWebhookRefusedChangesNothingThatRuns(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualServer server = server(namespace, "held", spec(SMALL, 1, 2));
    server.getMetadata().setLabels(Map.of("deny", "true"));
    createWhenReferencesKnown(client, server);
    String uid = awaitReady(client, server, 2).getMetadata().getUid();

    try (TestWebhook refuser =
        new TestWebhook(
            client,
            namespace.name(),
            "compute.nimbus.dev",
            "v1alpha1",
            "virtualservers",
            "UPDATE")) {
      for (String change :
          List.of("{\"maxCount\":5}", "{\"minCount\":1,\"maxCount\":1}", "{\"running\":false}")) {
        assertThatThrownBy(() -> patchSpec(namespace, "held", change))
            .as("the other webhook refuses %s", change)
            .hasMessageContaining(TestWebhook.MESSAGE);
        long refused = System.nanoTime();
        // Past the grace in which an admitted update may still be stored (5 s here), and more.
        long until = refused + 12_000_000_000L;
        while (System.nanoTime() < until) {
          assertThat(vms(client, namespace, "held"))
              .as("what runs follows the stored spec after %s was refused", change)
              .hasSize(2)
              .allSatisfy(vm -> assertThat(vm.getSpec().runStrategy).isEqualTo("Always"));
          Thread.sleep(500);
        }
        // The grace and a recheck after it (7 s), with room for a loaded machine's reconcile queue.
        awaitTrue(() -> ledger(client).entry(uid).count() == 2, 20);
        System.out.printf(
            "[VirtualServerIT] after %s was refused: the ledger held 2 again within %d ms%n",
            change, (System.nanoTime() - refused) / 1_000_000);
      }
      assertThat(reasons(client, namespace)).contains("ReservationReconciled");
    }
  }

  /**
   * A pool filled to what admission allows: every admitted instance's launcher pod, with the
   * overhead real virt-controller adds to it, is scheduled and its VMI runs; none waits for room.
   * Two nodes of 4 CPUs and 9Gi at ratio 1, instances of 1 vCPU and 2Gi: without the launcher's
   * overhead eight would be admitted and two of their pods could never be scheduled.
   */
  @Test
  void aPoolFilledToWhatAdmissionAllowsSchedulesEveryLauncher(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String group = namespace.name();
    List<String> nodes = twoNodePool(client, group, "9Gi");
    String type = "itvs.fill-" + group.substring(group.length() - 8);
    client.resource(Fixtures.instanceType(type, 1, "2Gi")).create();
    VirtualServer server =
        server(
            namespace,
            "fill",
            new VirtualServerSpec(
                "quay.io/containerdisks/fedora:40",
                type,
                1,
                10,
                null,
                null,
                null,
                group,
                true,
                false));
    try {
      createWhenReferencesKnown(client, server);
      int admitted =
          StoredLedgers.read(client, NAMESPACE, group).entries().values().stream()
              .mapToInt(e -> e.count())
              .sum();
      // 2Gi + about 0.6Gi of overhead each: three per node of 9Gi.
      assertThat(admitted).isEqualTo(6);
      VirtualServer ready = awaitReady(client, server, admitted);
      assertThat(ready.getStatus().instances())
          .allSatisfy(i -> assertThat(i.state()).isEqualTo("running"));
      assertThat(launchers(client, namespace, "fill"))
          .hasSize(admitted)
          .allSatisfy(pod -> assertThat(pod.getSpec().getNodeName()).isIn(nodes));
    } finally {
      client.resource(server).withGracePeriod(0).delete();
      awaitTrue(() -> client.resource(server).get() == null, 60);
      client.resources(CapacityPool.class).withName(group).delete();
      client.resources(InstanceType.class).withName(type).delete();
      nodes.forEach(node -> client.nodes().withName(node).delete());
    }
  }

  @Test
  void anInstanceWhoseNodeIsDeletedIsRecoveredOnAnotherNodeWithItsId(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String group = namespace.name();
    List<String> nodes = twoNodePool(client, group, "16Gi");
    VirtualServer server =
        server(
            namespace,
            "survivor",
            new VirtualServerSpec(
                "quay.io/containerdisks/fedora:40",
                SMALL,
                1,
                1,
                null,
                null,
                null,
                group,
                true,
                false));
    try {
      createWhenReferencesKnown(client, server);
      InstanceStatus before = awaitReady(client, server, 1).getStatus().instances().get(0);
      String other = nodes.get(0).equals(before.node()) ? nodes.get(1) : nodes.get(0);

      client.nodes().withName(before.node()).delete();

      VirtualServer recovered =
          client
              .resource(server)
              .waitUntilCondition(
                  s ->
                      s.getStatus() != null
                          && s.getStatus().instances() != null
                          && other.equals(s.getStatus().instances().get(0).node())
                          && "running".equals(s.getStatus().instances().get(0).state()),
                  // Real virt-controller fails the VMI of the lost node and backs off before
                  // it starts the VM again, on top of the pod garbage collector's wait.
                  240,
                  TimeUnit.SECONDS);
      assertThat(recovered.getStatus().instances().get(0).instanceId())
          .as("the instance keeps its id, as EC2's recovery does")
          .isEqualTo(before.instanceId());
      assertThat(
              StoredLedgers.read(client, NAMESPACE, group)
                  .entry(recovered.getMetadata().getUid())
                  .placements()
                  .get(0)
                  .node())
          .isEqualTo(other);
      assertThat(reasons(client, namespace)).contains("InstanceRecovered");

      // The last node goes too: no node has room, and the server can still be deleted.
      long lastNodeDeleted = System.nanoTime();
      client.nodes().withName(other).delete();
      awaitTrue(
          () ->
              client.v1().events().inNamespace(namespace.name()).list().getItems().stream()
                  .anyMatch(e -> e.getMessage().contains("has room to recover it yet")),
          30);
      client.resource(server).delete();
      // The VM goes once its launcher pod does, and the pod of a deleted node only when the pod
      // garbage collector takes it: 40 s after it first finds the node gone, at a sweep every 20 s.
      awaitTrue(
          () -> client.resource(server).get() == null,
          180,
          () -> "the server is not gone: " + whatHoldsADeletedServer(client, namespace, server));
      System.out.printf(
          "The server was gone %d s after its last node was deleted%n",
          TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - lastNodeDeleted));
      awaitTrue(() -> StoredLedgers.read(client, NAMESPACE, group).entries().isEmpty(), 30);
    } finally {
      client.resource(server).withGracePeriod(0).delete();
      client.resources(CapacityPool.class).withName(group).delete();
      nodes.forEach(node -> client.nodes().withName(node).delete());
    }
  }

  /**
   * virtctl reaches a server's VMs through KubeVirt's real virt-api: a restart reboots the guest in
   * place, a stop is set back to what the server says, with a Warning Event.
   */
  @Test
  void virtctlRestartsAServersVmAndAStopIsSetBack(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    VirtualServer server = server(namespace, "cli", spec(SMALL, 1, 1));
    createWhenReferencesKnown(client, server);
    InstanceStatus before = awaitReady(client, server, 1).getStatus().instances().get(0);
    String firstVmi = vmiUid(client, namespace, "cli-0");

    ControlPlaneBinaries.virtctl(namespace.name(), "restart", "cli-0");
    awaitTrue(
        () -> {
          String now = vmiUid(client, namespace, "cli-0");
          return now != null && !now.equals(firstVmi) && vmiRunning(client, namespace, "cli-0");
        },
        90);
    InstanceStatus restarted = awaitReady(client, server, 1).getStatus().instances().get(0);
    assertThat(restarted.instanceId()).isEqualTo(before.instanceId());
    assertThat(restarted.node()).isEqualTo(before.node());

    String secondVmi = vmiUid(client, namespace, "cli-0");
    ControlPlaneBinaries.virtctl(namespace.name(), "stop", "cli-0");
    awaitTrue(() -> reasons(client, namespace).contains("InstanceStateRestored"), 60);
    awaitTrue(
        () -> {
          String now = vmiUid(client, namespace, "cli-0");
          return now != null && !now.equals(secondVmi) && vmiRunning(client, namespace, "cli-0");
        },
        90);
    assertThat(vms(client, namespace, "cli"))
        .singleElement()
        .satisfies(vm -> assertThat(vm.getSpec().runStrategy).isEqualTo("Always"));
    awaitReady(client, server, 1);
  }

  /**
   * A tenant who may edit VMs cannot resize an instance or move it off the node its capacity was
   * reserved on: Nimbus sets the VM's template back (its size, its node, the labels the firewall
   * selects by), with a Warning Event. A VM at rest is never rewritten for what KubeVirt itself
   * adds to it on admission (firmware ids, machine type, architecture).
   */
  @Test
  void aTenantsEditOfAVmsTemplateIsSetBack(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    client.resource(webGroup(namespace)).create();
    VirtualServer server =
        server(
            namespace,
            "edited",
            new VirtualServerSpec(
                "quay.io/containerdisks/fedora:40",
                SMALL,
                1,
                1,
                null,
                List.of("web"),
                null,
                POOL,
                true,
                false));
    createWhenReferencesKnown(client, server);
    awaitReady(client, server, 1);
    var vm =
        client.resources(VirtualMachine.class).inNamespace(namespace.name()).withName("edited-0");
    VirtualMachine written = vm.get();
    assertThat(written.getMetadata().getGeneration())
        .as("the generation of a VM Nimbus created and KubeVirt defaulted, once Ready")
        .isEqualTo(1L);

    TenantEdits.patch(
        vm,
        """
        {"spec": {"template": {
          "metadata": {"labels": {"%s": null}},
          "spec": {"affinity": null, "domain": {"cpu": {"cores": 16},
            "resources": {"requests": {"cpu": "8", "memory": "64Gi"}}}}}}}"""
            .formatted(Names.securityGroupLabel("web")));
    awaitTrue(() -> reasons(client, namespace).contains("InstanceSpecRestored"), 60);
    awaitTrue(() -> templateAsWritten(vm.get(), written), 30);
    assertThat(vm.get().getSpec().template.spec.domain.firmware)
        .as(
            "the firmware ids KubeVirt gave the VM at create (the guest's identity) after a rewrite")
        .isNotNull()
        .isEqualTo(written.getSpec().template.spec.domain.firmware);
    long restored = vm.get().getMetadata().getGeneration();
    TimeUnit.SECONDS.sleep(5);
    assertThat(vm.get().getMetadata().getGeneration())
        .as("the VM's generation 5 s after it was set back (rewritten again and again if greater)")
        .isEqualTo(restored);
    awaitReady(client, server, 1);
  }

  /**
   * KubeVirt's default rollout (LiveUpdate) hot-plugs vCPU sockets and, on x86_64, guest memory
   * raised on a VM into its running VMI, within the room the VMI was started with (four times its
   * size unless the VM says otherwise): in the moment before Nimbus sets the edit back, a tenant
   * could take what was never admitted. A server's VM leaves no room (on an x86_64 node it names
   * its architecture, which virt-api judges a memory maximum against), so virt-api refuses such an
   * edit outright. A VM without these maxima (written by a version before them) gets them back
   * while it runs, without a restart.
   */
  @Test
  void aVmLeavesNoRoomToHotPlugVcpusOrMemory(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    VirtualServer server = server(namespace, "hotplug", spec(SMALL, 1, 1));
    createWhenReferencesKnown(client, server);
    awaitReady(client, server, 1);
    var vm =
        client.resources(VirtualMachine.class).inNamespace(namespace.name()).withName("hotplug-0");

    assertThatThrownBy(
            () ->
                TenantEdits.patch(
                    vm,
                    "{\"spec\": {\"template\": {\"spec\": {\"domain\": {\"cpu\": {\"sockets\": 4}}}}}}"))
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("maximum sockets");
    assertThatThrownBy(
            () ->
                TenantEdits.patch(
                    vm,
                    "{\"spec\": {\"template\": {\"spec\": {\"domain\": {\"memory\": {\"guest\": \"8Gi\"}}}}}}"))
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("maxGuest");
    assertThat(vm.get().getMetadata().getGeneration()).isEqualTo(1L);

    // A VM without the maxima, as a version before them wrote it (or a tenant's edit made it): the
    // running VM's template is set back, which virt-api accepts, and its VMI is not restarted.
    String vmiUid = vmiUid(client, namespace, "hotplug-0");
    TenantEdits.patch(
        vm,
        """
        {"spec": {"template": {"spec": {"domain": {
          "cpu": {"maxSockets": null}, "memory": {"maxGuest": null}}}}}}""");
    awaitTrue(
        () -> {
          var domain = vm.get().getSpec().template.spec.domain;
          return domain.cpu.maxSockets != null && domain.memory.maxGuest != null;
        },
        30,
        () ->
            "the maxima set back: "
                + client
                    .getKubernetesSerialization()
                    .asJson(vm.get().getSpec().template.spec.domain));
    assertThat(vmiUid(client, namespace, "hotplug-0")).as("the running VMI").isEqualTo(vmiUid);
    assertThatThrownBy(
            () ->
                TenantEdits.patch(
                    vm,
                    "{\"spec\": {\"template\": {\"spec\": {\"domain\": {\"memory\": {\"guest\": \"8Gi\"}}}}}}"))
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("maxGuest");
    awaitReady(client, server, 1);
  }

  /**
   * A VirtualMachine that holds an instance's name and is not the server's (a tenant's own, made
   * before the server, here even with the server's labels) is never adopted, rewritten or deleted:
   * the instance waits, with a Warning Event that names the VM, and runs once the name is free.
   */
  @Test
  void aVmOfTheSameNameThatIsNotTheServersIsNeverTakenOver(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualMachine own = tenantVm(client, namespace, "taken", 0, "Halted");
    var vm =
        client.resources(VirtualMachine.class).inNamespace(namespace.name()).withName("taken-0");
    String ownUid = client.resource(own).create().getMetadata().getUid();

    VirtualServer server = server(namespace, "taken", spec(SMALL, 1, 1));
    createWhenReferencesKnown(client, server);
    awaitTrue(() -> reasons(client, namespace).contains("NameTaken"), 60);
    VirtualMachine untouched = vm.get();
    assertThat(untouched.getMetadata().getUid()).isEqualTo(ownUid);
    assertThat(untouched.getMetadata().getGeneration())
        .as("the tenant's VM's generation")
        .isEqualTo(1L);
    assertThat(untouched.getMetadata().getOwnerReferences()).isEmpty();
    assertThat(untouched.getSpec().runStrategy).isEqualTo("Halted");
    assertThat(conditionStatus(client.resource(server).get(), "Ready")).isEqualTo("False");

    vm.delete();
    awaitTrue(
        () -> {
          // One read: the VM may go between two.
          VirtualMachine current = vm.get();
          return current == null || !current.getMetadata().getUid().equals(ownUid);
        },
        30);
    awaitReady(client, server, 1);
    assertThat(Links.isControlledBy(vm.get(), client.resource(server).get())).isTrue();
  }

  /**
   * A tenant's running VM that carries a server's labels, on the VM and its VMI, under a name past
   * the server's count is the tenant's: its VMI is never counted as an instance of the server. A
   * scale down does not wait for it, the server's deletion neither waits for it nor touches it.
   */
  @Test
  void aTenantsRunningVmWithAServersLabelsIsNeverCountedAsItsInstance(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualServer server = server(namespace, "claimed", spec(SMALL, 1, 2));
    createWhenReferencesKnown(client, server);
    String uid = awaitReady(client, server, 2).getMetadata().getUid();
    String vmUid =
        client
            .resource(tenantVm(client, namespace, "claimed", 5, "Always"))
            .create()
            .getMetadata()
            .getUid();
    var vmi =
        client
            .resources(VirtualMachineInstance.class)
            .inNamespace(namespace.name())
            .withName("claimed-5");
    awaitTrue(() -> vmi.get() != null, 60);
    String vmiUid = vmi.get().getMetadata().getUid();

    change(client, server, spec -> Fixtures.withCounts(spec, 1, 1));
    awaitTrue(
        () -> ledger(client).entry(uid).count() == 1,
        60,
        () -> "reservation trimmed to 1: " + ledger(client).entry(uid));

    client.resource(server).delete();
    awaitTrue(() -> client.resource(server).get() == null, 60);
    awaitTrue(() -> !ledger(client).entries().containsKey(uid), 30);
    VirtualMachine vm =
        client
            .resources(VirtualMachine.class)
            .inNamespace(namespace.name())
            .withName("claimed-5")
            .get();
    assertThat(vm.getMetadata().getUid()).as("the tenant's VM").isEqualTo(vmUid);
    assertThat(vm.getMetadata().getDeletionTimestamp()).as("the tenant's VM's deletion").isNull();
    assertThat(vmi.get()).as("the tenant's VMI once the server is gone").isNotNull();
    assertThat(vmi.get().getMetadata().getUid()).as("the tenant's VMI").isEqualTo(vmiUid);
    assertThat(vmi.get().getMetadata().getDeletionTimestamp())
        .as("the tenant's VMI's deletion")
        .isNull();
  }

  /**
   * A tenant's own VM named as instance {@code index} of {@code server} and labelled, with its
   * template, as that instance; not yet created.
   */
  private static VirtualMachine tenantVm(
      KubernetesClient client,
      TestNamespace namespace,
      String server,
      int index,
      String runStrategy) {
    VirtualMachine vm = new VirtualMachine();
    Map<String, String> labels =
        Map.of(Names.VIRTUAL_SERVER_LABEL, server, Names.INSTANCE_INDEX_LABEL, "" + index);
    vm.setMetadata(
        new ObjectMetaBuilder()
            .withName(server + "-" + index)
            .withNamespace(namespace.name())
            .withLabels(labels)
            .build());
    vm.setSpec(
        client
            .getKubernetesSerialization()
            .unmarshal(
                """
                {"runStrategy": "%s", "template": {"metadata": {"labels": %s}, "spec": {
                  "domain": {"cpu": {"cores": 1}, "memory": {"guest": "512Mi"},
                    "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]}},
                  "volumes": [{"name": "root",
                    "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}]}}}"""
                    .formatted(runStrategy, client.getKubernetesSerialization().asJson(labels)),
                VirtualMachineSpec.class));
    return vm;
  }

  /** Whether the parts of the template a tenant edited are again as Nimbus wrote them. */
  private static boolean templateAsWritten(VirtualMachine vm, VirtualMachine written) {
    var now = vm.getSpec().template;
    var then = written.getSpec().template;
    return now.metadata.getLabels().equals(then.metadata.getLabels())
        && Objects.equals(now.spec.affinity, then.spec.affinity)
        && Objects.equals(now.spec.domain.cpu.cores, then.spec.domain.cpu.cores)
        && Objects.equals(now.spec.domain.resources.requests, then.spec.domain.resources.requests);
  }

  private static boolean vmiRunning(KubernetesClient client, TestNamespace namespace, String name) {
    VirtualMachineInstance vmi =
        client
            .resources(VirtualMachineInstance.class)
            .inNamespace(namespace.name())
            .withName(name)
            .get();
    return vmi != null && vmi.getStatus() != null && "Running".equals(vmi.getStatus().phase);
  }

  @Test
  void stopStartScaleAndResizeGoThroughAdmission(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    VirtualServer app = server(namespace, "app", spec(SMALL, 1, 2));
    createWhenReferencesKnown(client, app);
    VirtualServer ready = awaitReady(client, app, 2);
    List<String> ids = ids(ready);
    String firstVmi = vmiUid(client, namespace, "app-0");

    // Stop: the VMs halt and stay, their capacity goes back to the pool.
    change(client, app, spec -> copy(spec, false, 2, false));
    VirtualServer stopped =
        client
            .resource(app)
            .waitUntilCondition(
                s ->
                    s.getStatus() != null
                        && s.getStatus().instances() != null
                        && s.getStatus().instances().stream()
                            .allMatch(i -> i.state().equals("stopped")),
                60,
                TimeUnit.SECONDS);
    assertThat(stopped.getStatus().admittedCount()).isZero();
    assertThat(ids(stopped)).isEqualTo(ids);
    awaitTrue(
        () -> ledger(client).entry(uid(stopped)) == null,
        10,
        () -> "capacity of the stopped server returned: " + ledger(client).entry(uid(stopped)));
    assertThat(vms(client, namespace, "app"))
        .allSatisfy(vm -> assertThat(vm.getSpec().runStrategy).isEqualTo("Halted"));

    // A start that finds no room is refused, and the server stays stopped.
    VirtualServer hog = server(namespace, "hog", spec(BIG, 3, 3));
    createWhenReferencesKnown(client, hog);
    // The hog leaves 0.988 of a core on each node, 2.964 in all: no node fits an instance.
    assertThatThrownBy(() -> change(client, app, spec -> copy(spec, true, 2, false)))
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("NoNodeFits");
    client.resource(hog).delete();
    awaitTrue(() -> ledger(client).entries().isEmpty(), 60);

    // Start: the same instances, running again.
    change(client, app, spec -> copy(spec, true, 2, false));
    assertThat(ids(awaitReady(client, app, 2))).isEqualTo(ids);

    // Scale up: a third instance; the first two keep running where they are.
    String runningVmi = vmiUid(client, namespace, "app-0");
    change(client, app, spec -> copy(spec, true, 3, false));
    VirtualServer three = awaitReady(client, app, 3);
    assertThat(ids(three).subList(0, 2)).isEqualTo(ids);
    assertThat(vmiUid(client, namespace, "app-0")).isEqualTo(runningVmi);

    // Scale down: the highest index goes.
    change(client, app, spec -> Fixtures.withCounts(spec, 1, 1));
    awaitReady(client, app, 1);
    awaitTrue(() -> vms(client, namespace, "app").size() == 1, 30);
    // The reservation is trimmed once the controller sees the instance gone, as the test did.
    awaitTrue(
        () -> ledger(client).entry(uid(three)).count() == 1,
        10,
        () -> "reservation trimmed to 1: " + ledger(client).entry(uid(three)));

    // Resize: the instance restarts with the new size.
    change(
        client,
        app,
        spec ->
            new VirtualServerSpec(spec.image(), MEDIUM, 1, 1, null, null, null, POOL, true, false));
    awaitTrue(
        () -> {
          VirtualMachineInstance vmi =
              client
                  .resources(VirtualMachineInstance.class)
                  .inNamespace(namespace.name())
                  .withName("app-0")
                  .get();
          return vmi != null
              && vmi.getSpec().domain.cpu.cores == 4
              && vmi.getStatus() != null
              && "Running".equals(vmi.getStatus().phase);
        },
        60);
    assertThat(vmiUid(client, namespace, "app-0")).isNotEqualTo(firstVmi);
    awaitReady(client, app, 1);
    awaitTrue(
        () ->
            launchers(client, namespace, "app").stream()
                .map(VirtualServerIT::placement)
                .toList()
                .toString()
                .matches("\\[kvm-[0-2] " + requests(4, 2_000, 8L << 30) + " secgroup=none\\]"),
        30);
    assertThat(reasons(client, namespace))
        .contains("InstancesStopped", "InstancesStarted", "InstanceTerminated", "InstanceResized");
  }

  @Test
  void deletionIsRefusedUnderTerminationProtectionAndOtherwiseLeavesNothingBehind(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    long allocatedBefore = allocatedCpu(client);
    client.resource(keyPair(namespace)).create();
    client.resource(webGroup(namespace)).create();
    VirtualServer guarded =
        server(
            namespace,
            "guarded",
            new VirtualServerSpec(
                "quay.io/containerdisks/fedora:40",
                SMALL,
                2,
                2,
                "deployer",
                List.of("web"),
                "#!/bin/sh\necho hi\n",
                POOL,
                true,
                true));
    createWhenReferencesKnown(client, guarded);
    awaitReady(client, guarded, 2);

    assertThatThrownBy(() -> client.resource(guarded).delete())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("spec.terminationProtection: true")
        .hasMessageContaining("kubectl patch vsrv guarded");
    change(client, guarded, spec -> copy(spec, true, 2, false));
    client.resource(guarded).delete();

    awaitTrue(() -> client.resource(guarded).get() == null, 60);
    String ns = namespace.name();
    assertThat(client.resources(VirtualMachine.class).inNamespace(ns).list().getItems()).isEmpty();
    awaitTrue(
        () ->
            client
                    .resources(VirtualMachineInstance.class)
                    .inNamespace(ns)
                    .list()
                    .getItems()
                    .isEmpty()
                && client
                    .secrets()
                    .inNamespace(ns)
                    .withLabel(Names.VIRTUAL_SERVER_LABEL)
                    .list()
                    .getItems()
                    .isEmpty()
                && client.network().networkPolicies().inNamespace(ns).list().getItems().isEmpty()
                && launchers(client, namespace, "guarded").isEmpty(),
        60);
    assertThat(allocatedCpu(client)).isEqualTo(allocatedBefore);
    assertThat(reasons(client, namespace)).contains("CapacityReleased");
  }

  /**
   * A deleted server gives its capacity back only once its VM and VMI are gone, including ones the
   * operator's cache does not hold: on a loaded API server a VM created moments before, here a VM
   * and VMI whose server label a tenant removed (the caches, which select by that label, drop
   * them). Returning the capacity while they are stored would promise it twice; waiting for a VMI
   * whose VM nobody deletes would never end.
   */
  @Test
  void aDeletedServerHoldsItsCapacityUntilAVmTheCacheDoesNotHoldIsGone(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualServer server = server(namespace, "unlabelled", spec(SMALL, 1, 1));
    createWhenReferencesKnown(client, server);
    String uid = awaitReady(client, server, 1).getMetadata().getUid();
    var vm =
        client
            .resources(VirtualMachine.class)
            .inNamespace(namespace.name())
            .withName("unlabelled-0");
    var vmi =
        client
            .resources(VirtualMachineInstance.class)
            .inNamespace(namespace.name())
            .withName("unlabelled-0");
    TenantEdits.unlabel(vm, Names.VIRTUAL_SERVER_LABEL);
    TenantEdits.unlabel(vmi, Names.VIRTUAL_SERVER_LABEL);

    client.resource(server).delete();
    awaitTrueHolding(
        () -> vm.get() == null && vmi.get() == null,
        () ->
            assertThat(ledger(client).entries())
                .as("the pool's ledger while the deleted server's VM or VMI is stored")
                .containsKey(uid),
        120,
        () -> "the deleted server's VM and VMI are not gone");
    awaitTrue(() -> client.resource(server).get() == null, 30);
    awaitTrue(() -> !ledger(client).entries().containsKey(uid), 30);
  }

  /**
   * A VM's index label is a tenant's to edit; its name is not. A VM whose index label was garbled
   * still belongs to its server by its name: its deletion completes.
   */
  @Test
  void aVmWhoseIndexLabelWasGarbledStillBelongsToItsServer(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualServer server = server(namespace, "garbled", spec(SMALL, 1, 1));
    createWhenReferencesKnown(client, server);
    String uid = awaitReady(client, server, 1).getMetadata().getUid();
    var vm =
        client.resources(VirtualMachine.class).inNamespace(namespace.name()).withName("garbled-0");
    TenantEdits.label(vm, Names.INSTANCE_INDEX_LABEL, "first");

    client.resource(server).delete();
    awaitTrue(() -> client.resource(server).get() == null, 60);
    assertThat(vm.get()).as("the VM once its server is gone").isNull();
    awaitTrue(() -> !ledger(client).entries().containsKey(uid), 30);
  }

  /**
   * A server whose VM was deleted without its VMI (kubectl delete --cascade=orphan) is still
   * deleted in full: its VMI, which nothing else would ever delete, goes too, and then its
   * capacity.
   */
  @Test
  void aDeletedServerWhoseVmWasOrphanDeletedTakesItsVmiWithIt(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualServer server = server(namespace, "orphaned", spec(SMALL, 1, 1));
    createWhenReferencesKnown(client, server);
    String uid = awaitReady(client, server, 1).getMetadata().getUid();
    var vmi =
        client
            .resources(VirtualMachineInstance.class)
            .inNamespace(namespace.name())
            .withName("orphaned-0");

    // kubectl delete vm orphaned-0 --cascade=orphan; kubectl delete vsrv orphaned
    client
        .resources(VirtualMachine.class)
        .inNamespace(namespace.name())
        .withName("orphaned-0")
        .withPropagationPolicy(DeletionPropagation.ORPHAN)
        .delete();
    client.resource(server).delete();

    awaitTrue(() -> client.resource(server).get() == null, 60);
    assertThat(vmi.get()).as("the VMI once its server is gone").isNull();
    awaitTrue(() -> !ledger(client).entries().containsKey(uid), 30);
  }

  /**
   * Every combination of options (user data, key pair, security groups, stopped) with every sample
   * InstanceType, created through real virt-api and run by real virt-controller: each VM is
   * accepted (a refusal would fail its create and leave its server without a VM) and never
   * rewritten for what virt-api adds to it, each running server is Ready with its instance running,
   * each stopped one keeps a halted VM and is Suspended. The pool is four nodes of its own, large
   * enough for all of them at once.
   */
  @Test
  void everyCombinationOfOptionsAndSampleTypeRunsOnKubeVirt(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String group = namespace.name();
    List<String> nodes = nodePool(client, group, 4, "32", "96Gi");
    client.resource(keyPair(namespace)).create();
    client.resource(webGroup(namespace)).create();
    List<String> types = new ArrayList<>();
    for (var sample : Samples.all()) {
      if (sample.kind().equals("InstanceType")) {
        InstanceType type =
            client.getKubernetesSerialization().convertValue(sample.object(), InstanceType.class);
        // Another installer (the chart) may own it already: its size is the sample's either way.
        if (client.resource(type).get() == null) {
          client.resource(type).create();
        }
        types.add(type.getMetadata().getName());
      }
    }
    Map<String, Boolean> running = new LinkedHashMap<>();
    try {
      for (String type : types) {
        for (int options = 0; options < 16; options++) {
          boolean userData = (options & 1) != 0;
          boolean key = (options & 2) != 0;
          boolean groups = (options & 4) != 0;
          boolean stopped = (options & 8) != 0;
          String name = type.replace('.', '-') + "-" + options;
          running.put(name, !stopped);
          createWhenReferencesKnown(
              client,
              server(
                  namespace,
                  name,
                  new VirtualServerSpec(
                      "quay.io/containerdisks/fedora:40",
                      type,
                      1,
                      1,
                      key ? "deployer" : null,
                      groups ? List.of("web") : null,
                      userData ? "#cloud-config\npackages: [nginx]\n" : null,
                      group,
                      !stopped,
                      false)));
        }
      }

      assertThat(running).hasSize(16 * types.size());
      var servers = client.resources(VirtualServer.class).inNamespace(namespace.name());
      awaitTrue(
          () -> notYetSettled(servers.list().getItems(), running).isEmpty(),
          180,
          () -> "servers not settled: " + notYetSettled(servers.list().getItems(), running));
      for (var server : running.entrySet()) {
        List<VirtualMachine> vms = vms(client, namespace, server.getKey());
        if (server.getValue()) {
          assertThat(vms).as("the VM of %s", server.getKey()).hasSize(1);
          assertThat(vms.get(0).getMetadata().getGeneration())
              .as("the generation of %s's VM (rewritten for what KubeVirt added if more)", server)
              .isEqualTo(1L);
          VirtualMachineInstance vmi =
              client
                  .resources(VirtualMachineInstance.class)
                  .inNamespace(namespace.name())
                  .withName(vms.get(0).getMetadata().getName())
                  .get();
          assertThat(vmi.getStatus().phase).as(server.getKey()).isEqualTo("Running");
          assertThat(vmi.getStatus().nodeName).as(server.getKey()).isIn(nodes);
        }
      }
    } finally {
      client
          .resources(VirtualServer.class)
          .inNamespace(namespace.name())
          .withGracePeriod(0)
          .delete();
      awaitTrue(
          () ->
              client
                  .resources(VirtualServer.class)
                  .inNamespace(namespace.name())
                  .list()
                  .getItems()
                  .isEmpty(),
          120);
      client.resources(CapacityPool.class).withName(group).delete();
      nodes.forEach(node -> client.nodes().withName(node).delete());
    }
  }

  /**
   * The servers of {@code running} (name to whether it runs) not yet where they should settle:
   * running ones Ready with their one instance running, stopped ones not Ready for being stopped
   * and with no instance running.
   */
  private static List<String> notYetSettled(
      List<VirtualServer> servers, Map<String, Boolean> running) {
    Map<String, VirtualServer> byName = new HashMap<>();
    servers.forEach(s -> byName.put(s.getMetadata().getName(), s));
    return running.entrySet().stream()
        .filter(
            expected -> {
              VirtualServer server = byName.get(expected.getKey());
              if (server == null
                  || server.getStatus() == null
                  || server.getStatus().conditions() == null
                  || !server
                      .getMetadata()
                      .getGeneration()
                      .equals(server.getStatus().observedGeneration())) {
                return true;
              }
              List<String> states =
                  server.getStatus().instances() == null
                      ? List.of()
                      : server.getStatus().instances().stream().map(i -> i.state()).toList();
              return expected.getValue()
                  ? !"True".equals(conditionStatus(server, "Ready"))
                      || !states.equals(List.of("running"))
                  : !"Stopped".equals(conditionReason(server, "Ready"))
                      || states.contains("running");
            })
        .map(
            expected -> {
              VirtualServer server = byName.get(expected.getKey());
              return expected.getKey()
                  + (server == null || server.getStatus() == null
                      ? " (no status)"
                      : " "
                          + server.getStatus().instances()
                          + " "
                          + server.getStatus().conditions());
            })
        .toList();
  }

  /**
   * A spec change that lands while the controller writes the status of the generation before is
   * still reconciled: the status write names the version it was computed from, so it cannot be
   * applied over the newer object, and the newer object's event is never taken for an older one.
   * Twenty stopped servers (no VMs whose events would reconcile them anyway) each get two spec
   * changes a random few milliseconds apart, twenty times over; every generation must be observed.
   */
  @Test
  void everyGenerationIsObservedWhenSpecChangesArriveDuringStatusWrites(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    int servers = 20;
    var stopped = copy(spec(SMALL, 1, 1), false, 1, false);
    List<String> names = IntStream.range(0, servers).mapToObj(i -> "busy-" + i).toList();
    for (String name : names) {
      createWhenReferencesKnown(client, server(namespace, name, stopped));
    }
    var all = client.resources(VirtualServer.class).inNamespace(namespace.name());
    var writers = Executors.newFixedThreadPool(servers);
    try {
      for (int round = 0; round < 20; round++) {
        List<Future<?>> changes = new ArrayList<>();
        for (String name : names) {
          changes.add(
              writers.submit(
                  () -> {
                    var random = ThreadLocalRandom.current();
                    for (boolean protection : new boolean[] {true, false}) {
                      all.withName(name)
                          .patch(
                              PatchContext.of(PatchType.JSON_MERGE),
                              "{\"spec\":{\"terminationProtection\":" + protection + "}}");
                      Thread.sleep(random.nextInt(80));
                    }
                    return null;
                  }));
        }
        for (var change : changes) {
          change.get();
        }
        int tried = round;
        awaitTrue(
            () -> unobserved(all.list().getItems()).isEmpty(),
            20,
            () -> "round " + tried + ": " + unobserved(all.list().getItems()));
      }
    } finally {
      writers.shutdownNow();
    }
  }

  /**
   * What the operator keeps of a server whose status it wrote is what its cache keeps of every
   * object, without the object's managedFields (often most of a small object), however the write's
   * own event and the write's answer arrived: ten stopped servers (no VMs), each changed five times
   * and its status written after each change, then counted in the operator's heap.
   */
  @Test
  void theOperatorKeepsNoManagedFieldsOfTheServersWhoseStatusItWrote(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    List<String> names = createStopped(client, namespace, "written-", 10);
    changeEachObserved(client, namespace, names, 5);

    assertThat(operator.liveInstances("io.fabric8.kubernetes.api.model.ManagedFieldsEntry"))
        .as("managedFields entries alive in the operator's heap")
        .isZero();
  }

  /**
   * A stopped server holds no reservation, and none can be on its way for it: the controller reads
   * the ledger as its replica's watch shows it. Reading the pool's shards from the API server
   * instead, at every reconcile of every such server, costs a list of every shard of the pool each
   * time: at a thousand nodes and a thousand stopped servers, a thousand lists of a thousand
   * ConfigMaps after every leader change or change of a security group they name.
   */
  @Test
  void reconcilesOfStoppedServersReadNoLedgerShardFromTheApiServer(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    List<String> names = createStopped(client, namespace, "stopped-", 10);
    var all = client.resources(VirtualServer.class).inNamespace(namespace.name());
    awaitTrue(
        () -> unobserved(all.list().getItems()).isEmpty() && ledger(client).entries().isEmpty(),
        30);

    double before = operator.counter("nimbus_ledger_reads_total");
    changeEachObserved(client, namespace, names, 3);
    double reads = operator.counter("nimbus_ledger_reads_total") - before;

    assertThat(reads)
        .as("reads of the pool's shards from the API server in 30 reconciles of stopped servers")
        .isZero();
  }

  /**
   * A deleted server looks again every 2 s until its VMs are gone, which a finalizer of someone
   * else's can make last. A stopped server holds no reservation, and the first look reads the
   * pool's shards as stored to be sure (the deletion bumps the server's generation, so no reconcile
   * has observed it, and another replica's webhook may have reserved for it a moment ago); the
   * looks after it read what the replica's watch shows. A list of the pool's shards at every look
   * would cost the API server more than the VM does.
   */
  @Test
  void aDeletionWaitingForItsVmReadsTheLedgerFromTheApiServerOnce(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    VirtualServer created = server(namespace, "lingering", spec(SMALL, 1, 1));
    createWhenReferencesKnown(client, created);
    String uid = awaitReady(client, created, 1).getMetadata().getUid();
    patchSpec(namespace, "lingering", "{\"running\":false}");
    var server =
        client.resources(VirtualServer.class).inNamespace(namespace.name()).withName("lingering");
    var vm =
        client
            .resources(VirtualMachine.class)
            .inNamespace(namespace.name())
            .withName("lingering-0");
    awaitTrue(
        () ->
            VirtualMachine.RUN_HALTED.equals(vm.get().getSpec().runStrategy)
                && !ledger(client).entries().containsKey(uid)
                && unobserved(List.of(server.get())).isEmpty(),
        60);
    List<String> held = new ArrayList<>(vm.get().getMetadata().getFinalizers());
    held.add("example.com/backup");
    TenantEdits.patch(vm, finalizers(held));

    double before = operator.counter("nimbus_ledger_reads_total");
    server.delete();
    awaitTrue(() -> vm.get().getMetadata().getDeletionTimestamp() != null, 30);
    Thread.sleep(10_000);
    double reads = operator.counter("nimbus_ledger_reads_total") - before;
    assertThat(server.get()).as("the deleted server while its VM is stored").isNotNull();

    List<String> left = new ArrayList<>(vm.get().getMetadata().getFinalizers());
    left.remove("example.com/backup");
    TenantEdits.patch(vm, finalizers(left));
    awaitTrue(() -> server.get() == null, 60);
    assertThat(reads)
        .as("reads of the pool's shards from the API server over 10 s of a deletion's looks")
        .isLessThanOrEqualTo(1);
  }

  private static String finalizers(List<String> finalizers) {
    return Serialization.asJson(Map.of("metadata", Map.of("finalizers", finalizers)));
  }

  /** Creates {@code count} stopped one-instance servers named {@code prefix} and an index. */
  private static List<String> createStopped(
      KubernetesClient client, TestNamespace namespace, String prefix, int count)
      throws InterruptedException {
    var stopped = copy(spec(SMALL, 1, 1), false, 1, false);
    List<String> names = IntStream.range(0, count).mapToObj(i -> prefix + i).toList();
    for (String name : names) {
      createWhenReferencesKnown(client, server(namespace, name, stopped));
    }
    return names;
  }

  /**
   * Changes the spec of each named server {@code rounds} times (termination protection on and off),
   * each round until the controller has reported every server's new generation.
   */
  private static void changeEachObserved(
      KubernetesClient client, TestNamespace namespace, List<String> names, int rounds)
      throws InterruptedException {
    var all = client.resources(VirtualServer.class).inNamespace(namespace.name());
    for (int change = 0; change < rounds; change++) {
      for (String name : names) {
        all.withName(name)
            .patch(
                PatchContext.of(PatchType.JSON_MERGE),
                "{\"spec\":{\"terminationProtection\":" + (change % 2 == 0) + "}}");
      }
      awaitTrue(() -> unobserved(all.list().getItems()).isEmpty(), 30);
    }
  }

  /** The servers whose latest generation the controller has not reported, with both numbers. */
  private static List<String> unobserved(List<VirtualServer> servers) {
    return servers.stream()
        .filter(
            s ->
                s.getStatus() == null
                    || !s.getMetadata().getGeneration().equals(s.getStatus().observedGeneration()))
        .map(
            s ->
                s.getMetadata().getName()
                    + " at generation "
                    + s.getMetadata().getGeneration()
                    + ", observed "
                    + (s.getStatus() == null ? null : s.getStatus().observedGeneration()))
        .toList();
  }

  /**
   * Two KVM nodes of 4 CPUs and {@code memory} in zone-a, and the pool {@code group} of them at
   * ratio 1 for servers; the node names.
   */
  private static List<String> twoNodePool(KubernetesClient client, String group, String memory) {
    return nodePool(client, group, 2, "4", memory);
  }

  /**
   * {@code count} KVM nodes of {@code cpu} and {@code memory} in zone-a, and the pool {@code group}
   * of them at ratio 1 for servers; the node names.
   */
  private static List<String> nodePool(
      KubernetesClient client, String group, int count, String cpu, String memory) {
    List<String> nodes =
        IntStream.range(0, count).mapToObj(i -> group + "-" + (char) ('a' + i)).toList();
    for (String node : nodes) {
      client
          .resource(
              Fixtures.kvmNode(
                  node,
                  Map.of("nimbus.dev/node-group", group, Names.ZONE_LABEL, "zone-a"),
                  cpu,
                  memory))
          .create();
    }
    CapacityPool pool = pool();
    pool.getMetadata().setName(group);
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels("nimbus.dev/node-group", group).build(),
            new PoolRatios(1.0, 1.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(CapacityPoolSpec.WorkloadKind.VirtualServer),
            null,
            null));
    client.resource(pool).create();
    return nodes;
  }

  static CapacityPool pool() {
    CapacityPool pool = new CapacityPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(POOL).build());
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels("nimbus.dev/node-group", "kvm").build(),
            new PoolRatios(2.0, 1.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(CapacityPoolSpec.WorkloadKind.VirtualServer),
            null,
            null));
    return pool;
  }

  static VirtualServerSpec spec(String type, int min, int max) {
    return new VirtualServerSpec(
        "quay.io/containerdisks/fedora:40", type, min, max, null, null, null, POOL, true, false);
  }

  static VirtualServer server(TestNamespace namespace, String name, VirtualServerSpec spec) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(namespace.name()).build());
    server.setSpec(spec);
    return server;
  }

  private static VirtualServerSpec copy(
      VirtualServerSpec spec, boolean running, int maxCount, boolean protection) {
    return new VirtualServerSpec(
        spec.image(),
        spec.instanceType(),
        Math.min(spec.minCount(), maxCount),
        maxCount,
        spec.keyName(),
        spec.securityGroups(),
        spec.userData(),
        spec.pool(),
        running,
        protection);
  }

  /** Changes the spec as a user would: on the latest version, again after a conflict. */
  static VirtualServer change(
      KubernetesClient client, VirtualServer server, UnaryOperator<VirtualServerSpec> change) {
    for (int attempt = 0; ; attempt++) {
      VirtualServer latest = client.resource(server).get();
      latest.setSpec(change.apply(latest.getSpec()));
      try {
        return client.resource(latest).update();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 || attempt > 10) {
          throw e;
        }
      }
    }
  }

  static VirtualServer awaitReady(KubernetesClient client, VirtualServer server, int instances) {
    return client
        .resource(server)
        .waitUntilCondition(
            s ->
                s != null
                    && s.getStatus() != null
                    && Integer.valueOf(instances).equals(s.getStatus().readyCount())
                    && Integer.valueOf(instances).equals(s.getStatus().admittedCount())
                    && "True".equals(conditionStatus(s, "Ready"))
                    && s.getMetadata().getGeneration().equals(s.getStatus().observedGeneration()),
            120,
            TimeUnit.SECONDS);
  }

  private static String conditionStatus(VirtualServer server, String type) {
    return server.getStatus().conditions() == null
        ? null
        : server.getStatus().conditions().stream()
            .filter(c -> c.getType().equals(type))
            .map(c -> c.getStatus())
            .findFirst()
            .orElse(null);
  }

  private static String conditionReason(VirtualServer server, String type) {
    return server.getStatus().conditions().stream()
        .filter(c -> c.getType().equals(type))
        .map(c -> c.getReason())
        .findFirst()
        .orElse(null);
  }

  private static String condition(VirtualServer server, String type) {
    return server.getStatus().conditions().stream()
        .filter(c -> c.getType().equals(type))
        .map(c -> c.getStatus() + ": " + c.getMessage())
        .findFirst()
        .orElse(null);
  }

  private static List<String> ids(VirtualServer server) {
    return server.getStatus().instances().stream().map(InstanceStatus::instanceId).toList();
  }

  private static String uid(HasMetadata object) {
    return object.getMetadata().getUid();
  }

  /**
   * What a deleted server still waits for: its finalizers, its VMs and VMIs, their launcher pods,
   * and its pool's ledger conditions.
   */
  private static String whatHoldsADeletedServer(
      KubernetesClient client, TestNamespace namespace, VirtualServer server) {
    VirtualServer now = client.resource(server).get();
    String vms =
        held(
            client.resources(VirtualMachine.class).inNamespace(namespace.name()).list().getItems(),
            vm -> "");
    String vmis =
        held(
            client
                .resources(VirtualMachineInstance.class)
                .inNamespace(namespace.name())
                .list()
                .getItems(),
            vmi -> "");
    String pods =
        held(
            client.pods().inNamespace(namespace.name()).list().getItems(),
            pod -> " on " + pod.getSpec().getNodeName());
    CapacityPool pool =
        client.resources(CapacityPool.class).withName(server.getSpec().pool()).get();
    return "finalizers "
        + (now == null ? "(gone)" : now.getMetadata().getFinalizers())
        + ", VMs "
        + vms
        + ", VMIs "
        + vmis
        + ", pods "
        + pods
        + ", pool conditions "
        + (pool == null || pool.getStatus() == null ? "(none)" : pool.getStatus().conditions());
  }

  /** Each of {@code objects} by name, what {@code more} says of it, its finalizers and deletion. */
  private static <T extends HasMetadata> String held(List<T> objects, Function<T, String> more) {
    return objects.stream()
        .map(
            o ->
                o.getMetadata().getName()
                    + more.apply(o)
                    + " finalizers="
                    + o.getMetadata().getFinalizers()
                    + " deleting="
                    + o.getMetadata().getDeletionTimestamp())
        .toList()
        .toString();
  }

  private static String vmiUid(KubernetesClient client, TestNamespace namespace, String name) {
    VirtualMachineInstance vmi =
        client
            .resources(VirtualMachineInstance.class)
            .inNamespace(namespace.name())
            .withName(name)
            .get();
    return vmi == null ? null : vmi.getMetadata().getUid();
  }

  static List<VirtualMachine> vms(KubernetesClient client, TestNamespace namespace, String server) {
    return client
        .resources(VirtualMachine.class)
        .inNamespace(namespace.name())
        .withLabel(Names.VIRTUAL_SERVER_LABEL, server)
        .list()
        .getItems();
  }

  private static List<Pod> launchers(
      KubernetesClient client, TestNamespace namespace, String server) {
    return client
        .pods()
        .inNamespace(namespace.name())
        .withLabel(Names.VIRTUAL_SERVER_LABEL, server)
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .toList();
  }

  /**
   * A launcher pod in one line: its node, what it requests in all (its containers and the sidecars
   * among its init containers, in millicores and bytes) and its security group.
   */
  private static String placement(Pod pod) {
    Amounts requested = LauncherPods.requested(pod);
    long cpu = requested.get(Resource.CPU);
    long memory = requested.get(Resource.MEMORY);
    String group =
        pod.getMetadata().getLabels().containsKey(Names.securityGroupLabel("web")) ? "web" : "none";
    return pod.getSpec().getNodeName() + " cpu=" + cpu + " memory=" + memory + " secgroup=" + group;
  }

  /**
   * What the launcher of an instance of {@code vcpus} whose VM requests {@code cpu} millicores and
   * {@code memory} bytes asks in all: those, and the overhead that admission counts for it.
   */
  private static String requests(int vcpus, long cpu, long memory) {
    Amounts overhead = LauncherOverhead.of(vcpus, memory);
    return "cpu="
        + (cpu + overhead.get(Resource.CPU))
        + " memory="
        + (memory + overhead.get(Resource.MEMORY));
  }

  private static List<String> reasons(KubernetesClient client, TestNamespace namespace) {
    return client.v1().events().inNamespace(namespace.name()).list().getItems().stream()
        .map(e -> e.getReason())
        .toList();
  }

  static Ledger ledger(KubernetesClient client) {
    return StoredLedgers.read(client, NAMESPACE, POOL);
  }

  private static long allocatedCpu(KubernetesClient client) {
    return ledger(client).entries().values().stream()
        .flatMap(e -> e.placements().stream())
        .mapToLong(p -> p.cpu())
        .sum();
  }

  private static KeyPair keyPair(TestNamespace namespace) {
    return Fixtures.keyPair(namespace.name());
  }

  private static SecurityGroup webGroup(TestNamespace namespace) {
    return Fixtures.webGroup(namespace.name());
  }

  private static String decode(Secret secret, String key) {
    return new String(
        Base64.getDecoder().decode(secret.getData().get(key)), StandardCharsets.UTF_8);
  }

  /** {@code kubectl patch vsrv <server> --type merge -p '{"spec":<spec>}'}, as a user does. */
  static void patchSpec(TestNamespace namespace, String server, String spec) throws Exception {
    kubectl(
        "patch",
        "vsrv",
        server,
        "-n",
        namespace.name(),
        "--type",
        "merge",
        "-p",
        "{\"spec\":" + spec + "}");
  }

  static void kubectl(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add("kubectl");
    command.add("--kubeconfig=" + LocalCluster.kubeconfig());
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor()).as("kubectl %s: %s", String.join(" ", args), output).isZero();
  }
}
