package dev.nimbus.containertask;

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
import dev.nimbus.api.v1alpha1.SecurityGroupSpec;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A ContainerTask shaped like the seed's run_task call, run by the operator on the local control
 * plane: its tasks become restricted pods on the plain nodes of the named zones, and its status
 * tells them as ECS DescribeTasks would.
 */
@ExtendWith(LocalCluster.class)
class ContainerTaskIT {
  private static final String POOL = "it-tasks";
  private static final String NAMESPACE = "nimbus-ctask-it";
  private static OperatorProcess operator;

  @BeforeAll
  static void startOperator() {
    KubernetesClient client = LocalCluster.client();
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    CapacityPool pool = new CapacityPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(POOL).build());
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels("nimbus.dev/node-group", "plain").build(),
            new PoolRatios(2.0, 1.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(CapacityPoolSpec.WorkloadKind.ContainerTask),
            null,
            null));
    client.resource(pool).serverSideApply();
    operator =
        OperatorProcess.start(
            "it-ctask-operator",
            Map.of(
                "quarkus.http.port", "0",
                "nimbus.namespace", NAMESPACE,
                "nimbus.webhook.host", "127.0.0.1",
                "nimbus.webhook.port", "19743",
                "nimbus.webhook.url", "https://127.0.0.1:19743",
                "nimbus.webhook.extra-hosts", "127.0.0.1",
                "nimbus.webhook.configuration-name", "nimbus-ctask-it"));
  }

  @AfterAll
  static void stopOperator() {
    KubernetesClient client = LocalCluster.client();
    client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName("nimbus-ctask-it")
        .delete();
    if (operator != null) {
      operator.close();
    }
    client.resources(CapacityPool.class).withName(POOL).delete();
  }

  @Test
  void aSeedShapedTaskRunsItsTasksOnPoolNodesInTheNamedZones(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    SecurityGroup web = new SecurityGroup();
    web.setMetadata(
        new ObjectMetaBuilder().withName("web").withNamespace(namespace.name()).build());
    web.setSpec(new SecurityGroupSpec("web", List.of(), null));
    client.resource(web).create();
    ContainerTask task = seedTask(namespace);
    createOnceTheWebhookKnowsTheGroup(client, task);

    ContainerTask running = awaitRunning(client, task, 3);

    assertThat(running.getStatus().cluster()).isEqualTo(POOL);
    assertThat(running.getStatus().tasks())
        .hasSize(3)
        .allSatisfy(
            t -> {
              assertThat(t.lastStatus()).isEqualTo("RUNNING");
              assertThat(t.desiredStatus()).isEqualTo("RUNNING");
              assertThat(t.taskArn())
                  .matches("arn:nimbus:ecs:" + namespace.name() + ":task/it-tasks/[0-9a-f]{32}");
              assertThat(t.availabilityZone()).isIn("zone-a", "zone-b");
              assertThat(t.node()).startsWith("plain-");
            });
    assertThat(running.getStatus().conditions())
        .anySatisfy(c -> assertThat(c.getType() + "=" + c.getStatus()).isEqualTo("Ready=True"));
    List<Pod> pods =
        client
            .pods()
            .inNamespace(namespace.name())
            .withLabel("compute.nimbus.dev/containertask", "hello")
            .list()
            .getItems();
    assertThat(pods)
        .hasSize(3)
        .allSatisfy(
            pod -> {
              assertThat(pod.getSpec().getRestartPolicy()).isEqualTo("Never");
              assertThat(pod.getSpec().getSecurityContext().getRunAsNonRoot()).isTrue();
              assertThat(pod.getMetadata().getLabels())
                  .containsKey("secgroup.compute.nimbus.dev/web");
              // 256 CPU units = 250m asked, the plain pool's CPU ratio is 2.
              assertThat(
                      pod.getSpec()
                          .getContainers()
                          .get(0)
                          .getResources()
                          .getRequests()
                          .get("cpu")
                          .toString())
                  .isEqualTo("125m");
            });
  }

  @Test
  void theCapacityOfARunIsReleasedWhenEveryTaskHasStopped(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task = seedTask(namespace);
    task.getMetadata().setName("once");
    task.setSpec(
        new ContainerTaskSpec(
            POOL,
            ContainerTaskSpec.LaunchType.FARGATE,
            task.getSpec().taskDefinition(),
            1,
            "LATEST",
            null));
    createOnceTheWebhookKnowsTheGroup(client, task);
    ContainerTask running = awaitRunning(client, task, 1);
    String uid = running.getMetadata().getUid();
    assertThat(ledger(client)).containsKey(uid);

    // What the kubelet reports when the container exits 0.
    Pod pod = client.pods().inNamespace(namespace.name()).withName("once-task-0").get();
    pod.getStatus().setPhase("Succeeded");
    pod.getStatus()
        .setContainerStatuses(
            List.of(
                new ContainerStatusBuilder()
                    .withName("hello")
                    .withNewState()
                    .withNewTerminated()
                    .withExitCode(0)
                    .withReason("Completed")
                    .withFinishedAt("2026-11-27T00:00:00Z")
                    .endTerminated()
                    .endState()
                    .build()));
    client.pods().resource(pod).updateStatus();

    ContainerTask complete =
        client
            .resource(task)
            .waitUntilCondition(
                t ->
                    t.getStatus().conditions().stream()
                        .anyMatch(
                            c -> c.getType().equals("Complete") && c.getStatus().equals("True")),
                30,
                TimeUnit.SECONDS);
    assertThat(complete.getStatus().tasks().get(0).lastStatus()).isEqualTo("STOPPED");
    assertThat(complete.getStatus().tasks().get(0).stopCode())
        .isEqualTo("EssentialContainerExited");
    assertThat(complete.getStatus().tasks().get(0).containers().get(0).exitCode()).isZero();
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (ledger(client).containsKey(uid)) {
      assertThat(System.nanoTime()).as("the run's reservation is released").isLessThan(deadline);
      Thread.sleep(200);
    }
  }

  private static ContainerTask awaitRunning(
      KubernetesClient client, ContainerTask task, int tasks) {
    return client
        .resource(task)
        .waitUntilCondition(
            t ->
                t.getStatus() != null
                    && Integer.valueOf(tasks).equals(t.getStatus().runningCount()),
            60,
            TimeUnit.SECONDS);
  }

  private static Map<String, ?> ledger(KubernetesClient client) {
    var map = client.configMaps().inNamespace(NAMESPACE).withName("nimbus-ledger-" + POOL).get();
    return map == null ? Map.of() : dev.nimbus.ledger.LedgerStore.decode(POOL, map).entries();
  }

  private static void createOnceTheWebhookKnowsTheGroup(KubernetesClient client, ContainerTask task)
      throws InterruptedException {
    for (int attempt = 0; ; attempt++) {
      try {
        client.resource(task).create();
        return;
      } catch (KubernetesClientException e) {
        if (attempt > 50 || !e.getMessage().contains("does not exist")) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }

  private static ContainerTask seedTask(TestNamespace namespace) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(
        new ObjectMetaBuilder().withName("hello").withNamespace(namespace.name()).build());
    task.setSpec(
        new ContainerTaskSpec(
            POOL,
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(
                "hello",
                256,
                512,
                List.of(
                    new ContainerDefinition(
                        "hello",
                        "busybox:1.36",
                        List.of("sh", "-c"),
                        List.of("sleep 30"),
                        null,
                        true,
                        null))),
            3,
            "LATEST",
            new NetworkConfiguration(
                new NetworkConfiguration.AwsVpcConfiguration(
                    List.of("zone-a", "zone-b"),
                    List.of("web"),
                    NetworkConfiguration.AssignPublicIp.ENABLED))));
    return task;
  }
}
