package dev.nimbus.workload;

import static dev.nimbus.testing.Await.awaitTrue;
import static dev.nimbus.testing.Await.createWhenReferencesKnown;
import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.NetworkConfiguration;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupRule;
import dev.nimbus.api.v1alpha1.SecurityGroupSpec;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SecurityGroups as the README promises them: every change of a group, and of the groups a workload
 * names, reaches the NetworkPolicy of every VirtualServer and ContainerTask that names it within 10
 * s; a NetworkPolicy that Nimbus did not create is never taken over.
 */
@ExtendWith(LocalCluster.class)
class SecurityGroupIT {
  private static final String SERVERS = "it-secgroup-servers";
  private static final String TASKS = "it-secgroup-tasks";
  private static final String NAMESPACE = "nimbus-secgroup-it";
  private static final String TYPE = "itsg.small";
  private static final long REACH_SECONDS = 10;
  private static OperatorProcess operator;

  @BeforeAll
  static void startOperator() {
    KubernetesClient client = LocalCluster.client();
    client
        .resource(pool(SERVERS, "kvm", CapacityPoolSpec.WorkloadKind.VirtualServer))
        .serverSideApply();
    client
        .resource(pool(TASKS, "plain", CapacityPoolSpec.WorkloadKind.ContainerTask))
        .serverSideApply();
    client.resource(Fixtures.instanceType(TYPE, 1, "1Gi")).serverSideApply();
    operator = OperatorProcess.forTests("it-secgroup-operator", NAMESPACE, 19543, Map.of());
  }

  @AfterAll
  static void stopOperator() {
    KubernetesClient client = LocalCluster.client();
    if (operator != null) {
      operator.close();
    }
    client.resources(CapacityPool.class).withName(SERVERS).delete();
    client.resources(CapacityPool.class).withName(TASKS).delete();
  }

  @Test
  void everyChangeOfAGroupReachesThePolicyOfEveryWorkloadThatNamesIt(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String ns = namespace.name();
    // The sample group `web`: ssh from the VPC, http from anywhere.
    SecurityGroup web =
        group(
            namespace,
            "web",
            rule(22, List.of("10.0.0.0/8"), List.of()),
            rule(80, List.of("0.0.0.0/0"), List.of()));
    client.resource(web).create();
    createWhenReferencesKnown(client, server(namespace, "web", List.of("web")));
    createWhenReferencesKnown(client, task(namespace, "hello", List.of("web")));
    List<String> policies = List.of("web-vsrv-secgroups", "hello-ctask-secgroups");
    awaitPolicies(client, ns, policies, ports(22, 80));

    // Removing the ssh rule.
    web.setSpec(
        new SecurityGroupSpec("web", List.of(rule(80, List.of("0.0.0.0/0"), List.of())), null));
    client.resource(web).update();
    awaitPolicies(client, ns, policies, ports(80));

    // Adding https.
    web.setSpec(
        new SecurityGroupSpec(
            "web",
            List.of(
                rule(80, List.of("0.0.0.0/0"), List.of()),
                rule(443, List.of("0.0.0.0/0"), List.of())),
            null));
    client.resource(web).update();
    awaitPolicies(client, ns, policies, ports(80, 443));

    // A hand edit of a policy (the controllers cache only a digest of its spec) is undone.
    client
        .network()
        .networkPolicies()
        .inNamespace(ns)
        .withName("hello-ctask-secgroups")
        .edit(
            policy -> {
              policy
                  .getSpec()
                  .getIngress()
                  .add(
                      new io.fabric8.kubernetes.api.model.networking.v1
                              .NetworkPolicyIngressRuleBuilder()
                          .addNewPort()
                          .withPort(new IntOrString(9999))
                          .endPort()
                          .build());
              return policy;
            });
    awaitPolicies(client, ns, policies, ports(80, 443));

    // Changing the peer group of a rule: from members of `db` to members of `cache`.
    web.setSpec(new SecurityGroupSpec("web", List.of(rule(5432, List.of(), List.of("db"))), null));
    client.resource(web).update();
    awaitPolicies(client, ns, policies, peerGroup("db"));
    web.setSpec(
        new SecurityGroupSpec("web", List.of(rule(5432, List.of(), List.of("cache"))), null));
    client.resource(web).update();
    awaitPolicies(client, ns, policies, peerGroup("cache"));

    // Deleting the group: its rules allow nothing any more; the workloads stay isolated.
    client.resource(web).delete();
    awaitPolicies(
        client,
        ns,
        policies,
        policy ->
            policy.getSpec().getIngress().isEmpty()
                && policy.getSpec().getPolicyTypes().contains("Ingress"));
  }

  @Test
  void removingAGroupFromAServerReachesItsPolicyAndTheLastOneRemovesIt(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String ns = namespace.name();
    client.resource(group(namespace, "web", rule(80, List.of("0.0.0.0/0"), List.of()))).create();
    client.resource(group(namespace, "ssh", rule(22, List.of("10.0.0.0/8"), List.of()))).create();
    VirtualServer server = server(namespace, "app", List.of("web", "ssh"));
    createWhenReferencesKnown(client, server);
    List<String> policy = List.of("app-vsrv-secgroups");
    awaitPolicies(client, ns, policy, ports(80, 22));

    patchGroups(client, ns, "app", "[\"web\"]");
    awaitPolicies(client, ns, policy, ports(80));

    patchGroups(client, ns, "app", "[]");
    awaitTrue(
        () ->
            client.network().networkPolicies().inNamespace(ns).withName("app-vsrv-secgroups").get()
                == null,
        REACH_SECONDS);
  }

  @Test
  void aGroupThatLimitsEgressStillLetsItsWorkloadsReachClusterDns(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    SecurityGroup https = group(namespace, "https-out");
    https.setSpec(
        new SecurityGroupSpec(
            "https out only", List.of(), List.of(rule(443, List.of("0.0.0.0/0"), List.of()))));
    client.resource(https).create();
    createWhenReferencesKnown(client, task(namespace, "fetch", List.of("https-out")));

    awaitPolicies(
        client,
        namespace.name(),
        List.of("fetch-ctask-secgroups"),
        policy ->
            policy.getSpec().getEgress().stream()
                .anyMatch(
                    rule ->
                        rule.getTo().stream()
                                .anyMatch(
                                    peer ->
                                        peer.getNamespaceSelector() != null
                                            && "kube-system"
                                                .equals(
                                                    peer.getNamespaceSelector()
                                                        .getMatchLabels()
                                                        .get("kubernetes.io/metadata.name"))
                                            && "kube-dns"
                                                .equals(
                                                    peer.getPodSelector()
                                                        .getMatchLabels()
                                                        .get("k8s-app")))
                            && rule.getPorts().stream()
                                .map(port -> port.getProtocol() + "/" + port.getPort().getIntVal())
                                .toList()
                                .containsAll(List.of("UDP/53", "TCP/53"))));
  }

  @Test
  void aSameNamedPolicyThatNimbusDidNotCreateIsNeverAdoptedOrChanged(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String ns = namespace.name();
    NetworkPolicy users =
        new NetworkPolicyBuilder()
            .withNewMetadata()
            .withName("web-vsrv-secgroups")
            .withNamespace(ns)
            .addToLabels("team", "platform")
            .endMetadata()
            .withNewSpec()
            .withNewPodSelector()
            .addToMatchLabels("app", "legacy")
            .endPodSelector()
            .withPolicyTypes("Ingress")
            .endSpec()
            .build();
    NetworkPolicy stored = client.resource(users).create();
    // The same name with Nimbus's own labels does not make it Nimbus's either.
    NetworkPolicy disguised =
        new NetworkPolicyBuilder(users)
            .editMetadata()
            .withName("hello-ctask-secgroups")
            .addToLabels("app.kubernetes.io/managed-by", "nimbus")
            .addToLabels("compute.nimbus.dev/containertask", "hello")
            .endMetadata()
            .build();
    NetworkPolicy storedDisguised = client.resource(disguised).create();
    client.resource(group(namespace, "web", rule(80, List.of("0.0.0.0/0"), List.of()))).create();
    VirtualServer server = server(namespace, "web", List.of("web"));
    createWhenReferencesKnown(client, server);
    ContainerTask task = task(namespace, "hello", List.of("web"));
    createWhenReferencesKnown(client, task);

    for (HasMetadata workload : List.of(server, task)) {
      awaitTrue(
          () ->
              conditions(client, workload).stream()
                  .anyMatch(
                      c ->
                          c.getType().equals("SecurityGroupsEnforced")
                              && c.getStatus().equals("False")
                              && c.getReason().equals("PolicyNameTaken")
                              && c.getMessage().contains("not created by Nimbus")),
          30);
    }
    for (NetworkPolicy before : List.of(stored, storedDisguised)) {
      NetworkPolicy after =
          client
              .network()
              .networkPolicies()
              .inNamespace(ns)
              .withName(before.getMetadata().getName())
              .get();
      assertThat(after.getMetadata().getResourceVersion())
          .as("%s is left as its owner wrote it", before.getMetadata().getName())
          .isEqualTo(before.getMetadata().getResourceVersion());
      assertThat(after.getMetadata().getOwnerReferences()).isEmpty();
    }
  }

  private static List<Condition> conditions(KubernetesClient client, HasMetadata workload) {
    List<Condition> conditions =
        workload instanceof VirtualServer server
            ? Optional.ofNullable(client.resource(server).get().getStatus())
                .map(status -> status.conditions())
                .orElse(null)
            : Optional.ofNullable(client.resource((ContainerTask) workload).get().getStatus())
                .map(status -> status.conditions())
                .orElse(null);
    return conditions == null ? List.of() : conditions;
  }

  /** What {@code kubectl patch vsrv --type merge} does. */
  private static void patchGroups(KubernetesClient client, String ns, String name, String groups) {
    client
        .resources(VirtualServer.class)
        .inNamespace(ns)
        .withName(name)
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\":{\"securityGroups\":" + groups + "}}");
  }

  /** Waits until every named policy exists, is Nimbus's, and satisfies {@code wanted}. */
  private static void awaitPolicies(
      KubernetesClient client, String ns, List<String> names, Predicate<NetworkPolicy> wanted)
      throws InterruptedException {
    awaitTrue(
        () ->
            names.stream()
                .map(n -> client.network().networkPolicies().inNamespace(ns).withName(n).get())
                .allMatch(p -> p != null && wanted.test(p)),
        REACH_SECONDS);
  }

  /** The policy allows in exactly these ports. */
  private static Predicate<NetworkPolicy> ports(Integer... ports) {
    return policy ->
        policy.getSpec().getIngress().stream()
            .flatMap(rule -> rule.getPorts().stream())
            .map(port -> port.getPort().getIntVal())
            .sorted()
            .toList()
            .equals(Arrays.stream(ports).sorted().toList());
  }

  /** The policy's only ingress peers are the members of {@code group}. */
  private static Predicate<NetworkPolicy> peerGroup(String group) {
    return policy ->
        policy.getSpec().getIngress().stream()
            .flatMap(rule -> rule.getFrom().stream())
            .map(peer -> peer.getPodSelector())
            .filter(Objects::nonNull)
            .flatMap(selector -> selector.getMatchExpressions().stream())
            .map(expression -> expression.getKey())
            .toList()
            .equals(List.of("secgroup.compute.nimbus.dev/" + group));
  }

  private static SecurityGroupRule rule(int port, List<String> cidrs, List<String> groups) {
    return new SecurityGroupRule(SecurityGroupRule.Protocol.tcp, port, null, cidrs, groups);
  }

  private static SecurityGroup group(
      TestNamespace namespace, String name, SecurityGroupRule... ingress) {
    SecurityGroup group = new SecurityGroup();
    group.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(namespace.name()).build());
    group.setSpec(new SecurityGroupSpec(name, List.of(ingress), null));
    return group;
  }

  private static VirtualServer server(TestNamespace namespace, String name, List<String> groups) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(namespace.name()).build());
    server.setSpec(
        new VirtualServerSpec(
            "quay.io/containerdisks/fedora:40",
            TYPE,
            1,
            1,
            null,
            groups,
            null,
            SERVERS,
            true,
            false));
    return server;
  }

  private static ContainerTask task(TestNamespace namespace, String name, List<String> groups) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(namespace.name()).build());
    task.setSpec(
        new ContainerTaskSpec(
            TASKS,
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(
                name,
                256,
                512,
                List.of(
                    new ContainerDefinition(name, "busybox:1.36", null, null, null, true, null))),
            1,
            "LATEST",
            new NetworkConfiguration(
                new NetworkConfiguration.AwsVpcConfiguration(
                    List.of("zone-a", "zone-b", "zone-c"),
                    groups,
                    NetworkConfiguration.AssignPublicIp.DISABLED))));
    return task;
  }

  private static CapacityPool pool(
      String name, String nodeGroup, CapacityPoolSpec.WorkloadKind kind) {
    CapacityPool pool = new CapacityPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).build());
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels("nimbus.dev/node-group", nodeGroup).build(),
            new PoolRatios(4.0, 2.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(kind),
            null,
            null));
    return pool;
  }
}
