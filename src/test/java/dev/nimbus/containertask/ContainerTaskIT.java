package dev.nimbus.containertask;

import static dev.nimbus.testing.Await.awaitTrue;
import static dev.nimbus.testing.Await.awaitTrueHolding;
import static dev.nimbus.testing.Await.createWhenReferencesKnown;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.NetworkConfiguration;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupSpec;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.PodCreations;
import dev.nimbus.testing.StoredLedgers;
import dev.nimbus.testing.TenantEdits;
import dev.nimbus.testing.TestNamespace;
import dev.nimbus.testing.TestWebhook;
import dev.nimbus.testing.UncalledWebhook;
import dev.nimbus.testing.Unwritten;
import dev.nimbus.workload.Links;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.DeleteOptionsBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.EvictionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
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
@SuppressWarnings("unchecked")
class ContainerTaskIT {
  private static final String POOL = "it-tasks";
  private static final String NAMESPACE = "nimbus-ctask-it";
  private static final String TASK_LABEL = "compute.nimbus.dev/containertask";
  private static final String INDEX_LABEL = "compute.nimbus.dev/task-index";
  private static OperatorProcess operator;

  @BeforeAll
  static void startOperator() {
    KubernetesClient client = LocalCluster.client();
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
    operator = OperatorProcess.forTests("it-ctask-operator", NAMESPACE, 19743, Map.of());
  }

  @AfterAll
  static void stopOperator() {
    KubernetesClient client = LocalCluster.client();
    if (operator != null) {
      operator.close();
    }
    client.resources(CapacityPool.class).withName(POOL).delete();
  }

  @Test
  void aSeedShapedTaskRunsItsTasksOnPoolNodesInTheNamedZones(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    createWebGroup(client, namespace);
    ContainerTask task = seedTask(namespace, "20s");
    ContainerTask created = createWhenReferencesKnown(client, task);
    assertThat(created.getMetadata().getFinalizers())
        .as("the finalizers the API server stored at the create (the webhook gives it)")
        .containsExactly(Names.TASK_FINALIZER);

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

    assertThat(operator.gauge("nimbus_time_to_running_seconds_count", "kind=\"ContainerTask\""))
        .as("the time from create to running is measured")
        .isGreaterThanOrEqualTo(1);

    // When the containers finish, every task stops with their exit codes.
    ContainerTask complete = awaitComplete(client, task);
    assertThat(complete.getStatus().tasks())
        .hasSize(3)
        .allSatisfy(
            t -> {
              assertThat(t.lastStatus()).isEqualTo("STOPPED");
              assertThat(t.stopCode()).isEqualTo("EssentialContainerExited");
              assertThat(t.containers().get(0).exitCode()).isZero();
              assertThat(t.availabilityZone()).isIn("zone-a", "zone-b");
            });
  }

  /**
   * A run stored while the webhook was not called (left out of its configuration) holds no
   * reservation and never started: its controller admits it as soon as the pool has room, and its
   * tasks run, instead of waiting for a change of its spec. A tenant's pod that carries the task's
   * labels is not one of its tasks: the run still counts as never started, and the pod is left as
   * it is.
   */
  @Test
  void aRunStoredWithoutAReservationIsAdmittedWhenThePoolHasRoom(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task = seedTask(namespace);
    var tenantPod = client.pods().inNamespace(namespace.name()).withName("tenants-own");
    String tenantPodUid =
        tenantPod(client, namespace, "tenants-own", task.getMetadata().getName(), 7);
    try (var uncalled = UncalledWebhook.in(client, NAMESPACE, namespace.name())) {
      // The create's answer, which is what was stored: the controller may add the finalizer at
      // once.
      var created = new AtomicReference<ContainerTask>();
      awaitTrue(
          () -> {
            try {
              created.set(client.resource(task).create());
              return true;
            } catch (KubernetesClientException e) {
              return false; // the API server still calls the webhook
            }
          },
          30);
      assertThat(created.get().getMetadata().getFinalizers())
          .as("finalizers given at the create by a webhook that was not called")
          .isNullOrEmpty();
    }

    awaitRunning(client, task, 3);
    assertThat(ledger(client)).containsKey(client.resource(task).get().getMetadata().getUid());
    assertThat(client.resource(task).get().getMetadata().getFinalizers())
        .as("the finalizer the controller adds where the webhook did not")
        .containsExactly(Names.TASK_FINALIZER);
    assertThat(
            client.v1().events().inNamespace(namespace.name()).list().getItems().stream()
                .map(e -> e.getReason()))
        .contains("Readmitted");
    assertThat(tenantPod.get().getMetadata().getUid()).isEqualTo(tenantPodUid);
    assertThat(tenantPod.get().getMetadata().getDeletionTimestamp()).isNull();
  }

  /**
   * A run whose tasks run, whose ledger shards were deleted while the operator was stopped, and
   * whose status does not show where its tasks run (the operator stopped before its controller
   * wrote it): no status places a task on those nodes, so none looks lost and the pool looks empty
   * there. The controller finds the run's pods without a reservation and reserves for them where
   * they run.
   */
  @Test
  void runningTasksWhoseReservationWasLostBeforeTheirStatusAreReservedWhereTheyRun(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task = seedTask(namespace);
    ContainerTask running = runWithItsGroup(client, namespace, task);
    String uid = running.getMetadata().getUid();
    List<String> runsOn = running.getStatus().tasks().stream().map(t -> t.node()).toList();

    operator.close();
    try {
      StoredLedgers.delete(client, NAMESPACE, POOL);
      Unwritten.status(client.resource(task));
    } finally {
      operator = OperatorProcess.forTests("it-ctask-operator", NAMESPACE, 19743, Map.of());
    }

    awaitTrue(
        () -> runsOn.equals(nodesOf(client, uid)),
        60,
        () -> "the run's reservation " + nodesOf(client, uid) + ", its tasks running on " + runsOn);
    // The Event follows the ledger's write.
    awaitTrue(
        () ->
            client.v1().events().inNamespace(namespace.name()).list().getItems().stream()
                .anyMatch(e -> "ReservationRestored".equals(e.getReason())),
        30,
        () -> "a ReservationRestored Event on the run");
    // The shards of the nodes that earlier runs' statuses name were deleted too: the tests after
    // this one find them rebuilt.
    awaitTrue(() -> StoredLedgers.complete(client, POOL), 60);
  }

  /** The nodes of the instances that {@code uid}'s reservation holds; empty for none. */
  private static List<String> nodesOf(KubernetesClient client, String uid) {
    var entry = StoredLedgers.read(client, NAMESPACE, POOL).entry(uid);
    return entry == null ? List.of() : entry.placements().stream().map(p -> p.node()).toList();
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
    createWhenReferencesKnown(client, task);
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

  @Test
  void tasksStopWithTheExitCodesOfTheirContainersAndReleaseTheirCapacity(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    // The containers run long enough for both tasks to be seen running at once on a busy machine.
    ContainerTask task =
        task(
            namespace,
            "batch",
            2,
            List.of(container("main", true, "0", "15s"), container("helper", false, "0", null)));
    createWhenReferencesKnown(client, task);
    String uid = awaitRunning(client, task, 2).getMetadata().getUid();
    assertThat(ledger(client)).containsKey(uid);

    ContainerTask complete = awaitComplete(client, task);

    assertThat(complete.getStatus().tasks())
        .hasSize(2)
        .allSatisfy(
            t -> {
              assertThat(t.lastStatus()).isEqualTo("STOPPED");
              assertThat(t.stopCode()).isEqualTo("EssentialContainerExited");
              assertThat(t.stoppedAt()).isNotNull();
              assertThat(t.containers())
                  .extracting(c -> c.name() + "=" + c.exitCode())
                  .containsExactly("main=0", "helper=0");
            });
    awaitTrue(() -> !ledger(client).containsKey(uid), 30);
  }

  @Test
  void aFailingEssentialContainerStopsItsTaskANonEssentialOneDoesNot(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask failing =
        task(
            namespace,
            "failing",
            1,
            List.of(container("main", true, "3", "2s"), container("sidecar", false, null, null)));
    ContainerTask tolerant =
        task(
            namespace,
            "tolerant",
            1,
            List.of(container("main", true, null, null), container("sidecar", false, "1", "1s")));
    createWhenReferencesKnown(client, failing);
    createWhenReferencesKnown(client, tolerant);

    ContainerTask stopped = awaitComplete(client, failing);
    var task = stopped.getStatus().tasks().get(0);
    assertThat(task.stopCode()).isEqualTo("EssentialContainerExited");
    assertThat(task.stoppedReason())
        .isEqualTo("Essential container in task exited: main (exit code 3)");
    assertThat(task.containers())
        .extracting(c -> c.name() + "=" + c.lastStatus() + "/" + c.exitCode())
        .containsExactly("main=STOPPED/3", "sidecar=RUNNING/null");
    assertThat(stopped.getStatus().conditions())
        .anySatisfy(
            c -> assertThat(c.getType() + "=" + c.getReason()).isEqualTo("Ready=TaskFailed"));
    // The sidecar still ran: the task's pod is stopped by Nimbus, as ECS stops the others.
    awaitStoppedByNimbus(client, namespace.name(), "failing-task-0");

    ContainerTask sidecarDown =
        client
            .resource(tolerant)
            .waitUntilCondition(
                t ->
                    t.getStatus() != null
                        && t.getStatus().tasks() != null
                        && t.getStatus().tasks().get(0).containers().get(1).exitCode() != null,
                60,
                TimeUnit.SECONDS);
    assertThat(sidecarDown.getStatus().tasks().get(0).lastStatus()).isEqualTo("RUNNING");
    Thread.sleep(3000);
    assertThat(client.resource(tolerant).get().getStatus().tasks().get(0).lastStatus())
        .as("a non-essential container's exit leaves the task running")
        .isEqualTo("RUNNING");
  }

  @Test
  void deletionStopsRunningTasksWithUserInitiatedAndLeavesNothingBehind(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task = seedTask(namespace);
    String uid = runWithItsGroup(client, namespace, task).getMetadata().getUid();
    NetworkPolicy policy =
        client
            .network()
            .networkPolicies()
            .inNamespace(namespace.name())
            .withName("hello-ctask-secgroups")
            .get();
    assertThat(policy.getSpec().getPodSelector().getMatchLabels())
        .containsEntry("compute.nimbus.dev/containertask", "hello");
    assertThat(policy.getSpec().getIngress())
        .as("an empty ingress list allows nothing in")
        .isEmpty();

    List<String> seen = new CopyOnWriteArrayList<>();
    try (var watch =
        client
            .resource(task)
            .watch(
                new Watcher<ContainerTask>() {
                  @Override
                  public void eventReceived(Action action, ContainerTask seenTask) {
                    if (seenTask.getStatus() != null && seenTask.getStatus().tasks() != null) {
                      seenTask
                          .getStatus()
                          .tasks()
                          .forEach(t -> seen.add(String.valueOf(t.stopCode())));
                    }
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                })) {
      client.resource(task).delete();
      awaitTrue(() -> client.resource(task).get() == null, 60);
    }

    assertThat(seen).contains("UserInitiated");
    String ns = namespace.name();
    awaitTrue(
        () ->
            client
                    .pods()
                    .inNamespace(ns)
                    .withLabel("compute.nimbus.dev/containertask")
                    .list()
                    .getItems()
                    .isEmpty()
                && client.network().networkPolicies().inNamespace(ns).list().getItems().isEmpty()
                && !ledger(client).containsKey(uid),
        60);
  }

  /**
   * A deleted task gives its capacity back only once its pods are gone, including a pod the
   * operator's cache does not hold: on a loaded API server a pod created moments before, here one
   * whose task label a tenant removed (the cache, which selects by that label, drops it). Returning
   * the capacity while the pod is stored would promise it twice.
   */
  @Test
  void aDeletedTaskHoldsItsCapacityUntilAPodTheCacheDoesNotHoldIsGone(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task =
        task(namespace, "unlabelled", 1, List.of(container("main", true, null, null)));
    createWhenReferencesKnown(client, task);
    String uid = awaitRunning(client, task, 1).getMetadata().getUid();
    var pod = client.pods().inNamespace(namespace.name()).withName("unlabelled-task-0");
    TenantEdits.unlabel(pod, TASK_LABEL);

    client.resource(task).delete();
    awaitTrueHolding(
        () -> pod.get() == null,
        () ->
            assertThat(ledger(client))
                .as("the pool's ledger while the deleted task's pod is stored")
                .containsKey(uid),
        60,
        () -> "the deleted task's pod is not let go");
    awaitTrue(() -> client.resource(task).get() == null, 30);
    awaitTrue(() -> !ledger(client).containsKey(uid), 30);
  }

  /**
   * A pod's index label is a tenant's to edit; its name is not. A pod whose index label was garbled
   * still belongs to its task by its name: the task is still reconciled, and its deletion
   * completes.
   */
  @Test
  void aPodWhoseIndexLabelWasGarbledStillBelongsToItsTask(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task =
        task(namespace, "garbled", 1, List.of(container("main", true, null, null)));
    createWhenReferencesKnown(client, task);
    String uid = awaitRunning(client, task, 1).getMetadata().getUid();
    TenantEdits.label(
        client.pods().inNamespace(namespace.name()).withName("garbled-task-0"),
        INDEX_LABEL,
        "first");
    // The task is still reconciled: its pod's deletion stops it, as any pod's does.
    client
        .pods()
        .inNamespace(namespace.name())
        .withName("garbled-task-0")
        .withGracePeriod(1)
        .delete();
    assertThat(awaitStopped(client, task, 0).stopCode()).isEqualTo("UserInitiated");

    client.resource(task).delete();
    awaitTrue(() -> client.resource(task).get() == null, 60);
    assertThat(client.pods().inNamespace(namespace.name()).withName("garbled-task-0").get())
        .as("the pod once its task is gone")
        .isNull();
    awaitTrue(() -> !ledger(client).containsKey(uid), 30);
  }

  /**
   * A pod that holds a task's pod name and is not the task's (a tenant's own, made before the task,
   * here even with the task's labels) is never adopted, stopped or deleted: the task waits, with a
   * Warning Event that names the pod, and runs once the name is free.
   */
  @Test
  void aPodOfTheSameNameThatIsNotTheTasksIsNeverTakenOver(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    var pod = client.pods().inNamespace(namespace.name()).withName("taken-task-0");
    String ownUid = tenantPod(client, namespace, "taken-task-0", "taken", 0);

    ContainerTask task = task(namespace, "taken", 1, List.of(container("main", true, null, null)));
    createWhenReferencesKnown(client, task);
    awaitTrue(
        () ->
            client.v1().events().inNamespace(namespace.name()).list().getItems().stream()
                .anyMatch(e -> "NameTaken".equals(e.getReason())),
        60);
    Pod untouched = pod.get();
    assertThat(untouched.getMetadata().getUid()).isEqualTo(ownUid);
    assertThat(untouched.getMetadata().getOwnerReferences()).isEmpty();
    assertThat(untouched.getMetadata().getDeletionTimestamp()).isNull();

    pod.withGracePeriod(0).delete();
    ContainerTask running = awaitRunning(client, task, 1);
    assertThat(Links.isControlledBy(pod.get(), running)).isTrue();
  }

  /**
   * The API server refuses the deletion's writes for longer than a few retries (an overloaded API
   * server times them out the same way): once it accepts them again, the deletion completes without
   * any further event, as nothing else would ever bring its task back to the controller.
   */
  @Test
  void aDeletionWhoseWritesAreRefusedForAMinuteCompletesOnceTheyAreAccepted(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task =
        task(namespace, "refused", 1, List.of(container("main", true, null, null)));
    createWhenReferencesKnown(client, task);
    String uid = awaitRunning(client, task, 1).getMetadata().getUid();
    try (TestWebhook refusal =
        new TestWebhook(
            client,
            namespace.name(),
            "compute.nimbus.dev",
            "v1alpha1",
            "containertasks/status",
            "UPDATE")) {
      client
          .resource(task)
          .edit(
              t -> {
                t.getMetadata().setLabels(Map.of("deny", "true"));
                return t;
              });
      client.resource(task).delete();
      // Longer than JOSDK's default retries of a failed reconcile (5, about 26 s in all).
      awaitTrue(() -> refusal.calls() > 0, 30);
      Thread.sleep(60_000);
      assertThat(client.resource(task).get())
          .as("the task while its stops are refused")
          .isNotNull();
    }
    awaitTrue(() -> client.resource(task).get() == null, 90);
    awaitTrue(() -> !ledger(client).containsKey(uid), 30);
  }

  @Test
  void anInvalidSizeAndARunBeyondThePoolAreDeniedWithClearMessages(
      KubernetesClient client, TestNamespace namespace) {
    ContainerTask oddSize = task(namespace, "odd", 1, List.of(container("main", true, null, null)));
    oddSize.setSpec(withSize(oddSize.getSpec(), 256, 4096));
    assertThatThrownBy(() -> client.resource(oddSize).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("taskDefinition")
        .hasMessageContaining("256 → 512, 1024 or 2048");

    // 8 vCPU and 60 GiB: no plain node (32 GiB, memory ratio 1) can hold one task.
    ContainerTask huge = task(namespace, "huge", 1, List.of(container("main", true, null, null)));
    huge.setSpec(withSize(huge.getSpec(), 8192, 61440));
    assertThatThrownBy(() -> client.resource(huge).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("pool \"" + POOL + "\"")
        .hasMessageContaining("memory");
  }

  /**
   * A ContainerTask applied with kubectl names a registered task definition as ECS's RunTask does,
   * family:revision: its tasks run that revision's containers at its size, its status records the
   * revision, and it ends as any run does, even though the revision is deleted while it runs. A
   * revision not registered, no definition at all, or both at once are refused with the field.
   */
  @Test
  void aTaskNamingARegisteredRevisionRunsItAndEndsEvenIfTheRevisionIsDeleted(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    Path manifests = Files.createTempFile("nimbus-taskdef", ".yaml");
    Files.writeString(
        manifests,
        String.join(
            "\n",
            "apiVersion: compute.nimbus.dev/v1alpha1",
            "kind: TaskDefinitionRevision",
            "metadata: {name: report.3, namespace: " + namespace.name() + "}",
            "spec:",
            "  revision: 3",
            "  taskDefinition:",
            "    family: report",
            "    cpu: 512",
            "    memory: 1024",
            "    containers:",
            "      - name: main",
            "        image: busybox:1.36",
            "        env: [{name: NIMBUS_LOCAL_EXIT_CODE, value: \"0\"},"
                + " {name: NIMBUS_LOCAL_RUN_FOR, value: 10s}]",
            "---",
            "apiVersion: compute.nimbus.dev/v1alpha1",
            "kind: ContainerTask",
            "metadata: {name: nightly, namespace: " + namespace.name() + "}",
            "spec:",
            "  cluster: " + POOL,
            "  taskDefinitionRef: report:3",
            ""));
    kubectlApplyWhenKnown(manifests);
    ContainerTask task =
        client
            .resources(ContainerTask.class)
            .inNamespace(namespace.name())
            .withName("nightly")
            .get();
    String uid = awaitRunning(client, task, 1).getMetadata().getUid();

    assertThat(StoredLedgers.read(client, NAMESPACE, POOL).entry(uid).placements())
        .singleElement()
        .satisfies(p -> assertThat(p.cpu()).isEqualTo(500));
    Pod pod =
        client.pods().inNamespace(namespace.name()).withName(Names.taskPod("nightly", 0)).get();
    assertThat(pod.getSpec().getContainers()).extracting(c -> c.getName()).containsExactly("main");
    ContainerTask seen = client.resource(task).get();
    assertThat(seen.getStatus().taskDefinition().family()).isEqualTo("report");

    client
        .resources(TaskDefinitionRevision.class)
        .inNamespace(namespace.name())
        .withName("report.3")
        .delete();
    ContainerTask complete = awaitComplete(client, task);
    assertThat(complete.getStatus().tasks().get(0).stopCode())
        .isEqualTo("EssentialContainerExited");
    awaitTrue(() -> !ledger(client).containsKey(uid), 30);

    ContainerTask unknown = new ContainerTask();
    unknown.setMetadata(
        new ObjectMetaBuilder().withName("unknown").withNamespace(namespace.name()).build());
    unknown.setSpec(
        new ContainerTaskSpec(
            POOL, ContainerTaskSpec.LaunchType.FARGATE, null, "report:3", 1, "LATEST", null));
    assertThatThrownBy(() -> client.resource(unknown).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("spec.taskDefinitionRef")
        .hasMessageContaining("task definition report:3 is not registered in namespace");
    ContainerTask neither = task(namespace, "neither", 1, List.of());
    neither.setSpec(
        new ContainerTaskSpec(
            POOL, ContainerTaskSpec.LaunchType.FARGATE, null, null, 1, "LATEST", null));
    assertThatThrownBy(() -> client.resource(neither).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("set exactly one of taskDefinition");
    ContainerTask both = task(namespace, "both", 1, List.of(container("main", true, null, null)));
    both.setSpec(
        new ContainerTaskSpec(
            POOL,
            ContainerTaskSpec.LaunchType.FARGATE,
            both.getSpec().taskDefinition(),
            "report:3",
            1,
            "LATEST",
            null));
    assertThatThrownBy(() -> client.resource(both).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("set exactly one of taskDefinition");
    ContainerTask noRevision = task(namespace, "norev", 1, List.of());
    noRevision.setSpec(
        new ContainerTaskSpec(
            POOL, ContainerTaskSpec.LaunchType.FARGATE, null, "report", 1, "LATEST", null));
    assertThatThrownBy(() -> client.resource(noRevision).create())
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("taskDefinitionRef must be family:revision");
  }

  /**
   * kubectl apply, retried while the webhook has not seen the revision the task names yet (its
   * watch), as a user would apply again.
   */
  private static void kubectlApplyWhenKnown(Path manifests) throws Exception {
    String last = "";
    for (int attempt = 0; attempt < 30; attempt++) {
      Process process =
          new ProcessBuilder(
                  "kubectl",
                  "--kubeconfig=" + LocalCluster.kubeconfig(),
                  "apply",
                  "-f",
                  manifests.toString())
              .redirectErrorStream(true)
              .start();
      last = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (process.waitFor() == 0) {
        return;
      }
      if (!last.contains("is not registered")) {
        break;
      }
      Thread.sleep(500);
    }
    throw new AssertionError("kubectl apply failed: " + last);
  }

  @Test
  void noFieldOfTheSpecMakesAPrivilegedPodOrAHostMount(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    // Fields Kubernetes users might try, at every level of the spec: the schema knows none of
    // them, so the API server drops them, and the pod is built from what remains.
    Map<String, Object> sneaky =
        Map.of(
            "privileged",
            true,
            "securityContext",
            Map.of("privileged", true, "runAsUser", 0),
            "hostNetwork",
            true,
            "hostPID",
            true,
            "volumes",
            List.of(Map.of("name", "root", "hostPath", Map.of("path", "/"))),
            "volumeMounts",
            List.of(Map.of("name", "root", "mountPath", "/host")));
    ContainerTask task = task(namespace, "sneaky", 1, List.of(container("main", true, null, null)));
    Map<String, Object> raw = client.getKubernetesSerialization().convertValue(task, Map.class);
    Map<String, Object> spec = (Map<String, Object>) raw.get("spec");
    spec.putAll(sneaky);
    Map<String, Object> definition = (Map<String, Object>) spec.get("taskDefinition");
    definition.putAll(sneaky);
    ((List<Map<String, Object>>) definition.get("containers")).get(0).putAll(sneaky);
    GenericKubernetesResource generic =
        client.getKubernetesSerialization().convertValue(raw, GenericKubernetesResource.class);
    for (int attempt = 0; ; attempt++) {
      try {
        client.resource(generic).create();
        break;
      } catch (KubernetesClientException e) {
        if (attempt > 50 || !e.getMessage().contains("does not exist")) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
    awaitRunning(client, task, 1);

    Pod pod = client.pods().inNamespace(namespace.name()).withName("sneaky-task-0").get();
    assertThat(pod.getSpec().getHostNetwork()).isNotEqualTo(Boolean.TRUE);
    assertThat(pod.getSpec().getHostPID()).isNotEqualTo(Boolean.TRUE);
    assertThat(pod.getSpec().getVolumes()).noneMatch(v -> v.getHostPath() != null);
    assertThat(pod.getSpec().getContainers())
        .allSatisfy(
            c -> {
              assertThat(c.getSecurityContext().getPrivileged()).isNotEqualTo(Boolean.TRUE);
              assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
              assertThat(c.getVolumeMounts()).isEmpty();
            });
    assertThat(pod.getSpec().getSecurityContext().getRunAsNonRoot()).isTrue();
  }

  @Test
  void aDeletedPodStopsItsTaskForGoodWithUserInitiated(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task =
        task(namespace, "deleted", 1, List.of(container("main", true, null, null)));
    try (var creations = PodCreations.watch(client, namespace.name(), TASK_LABEL)) {
      createWhenReferencesKnown(client, task);
      String uid = awaitRunning(client, task, 1).getMetadata().getUid();

      // kubectl delete pod deleted-task-0 --grace-period=1
      client
          .pods()
          .inNamespace(namespace.name())
          .withName("deleted-task-0")
          .withGracePeriod(1)
          .delete();

      var stopped = awaitStopped(client, task, 0);
      assertThat(stopped.stopCode()).isEqualTo("UserInitiated");
      assertThat(stopped.stoppedReason()).contains("pod deleted-task-0 was deleted");
      assertThat(stopped.stoppedAt()).isNotNull();
      awaitTrue(() -> !ledger(client, POOL).containsKey(uid), 30);
      assertRunOnce(client, task, creations, 1);
    }
  }

  @Test
  void anEvictedPodStopsItsTaskWithTerminationNotice(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task =
        task(namespace, "evicted", 1, List.of(container("main", true, null, null)));
    try (var creations = PodCreations.watch(client, namespace.name(), TASK_LABEL)) {
      createWhenReferencesKnown(client, task);
      awaitRunning(client, task, 1);

      // What kubectl drain does: an eviction through the Eviction API.
      boolean evicted =
          client
              .pods()
              .inNamespace(namespace.name())
              .withName("evicted-task-0")
              .evict(
                  new EvictionBuilder()
                      .withNewMetadata()
                      .withName("evicted-task-0")
                      .withNamespace(namespace.name())
                      .endMetadata()
                      .withDeleteOptions(
                          new DeleteOptionsBuilder().withGracePeriodSeconds(1L).build())
                      .build());
      assertThat(evicted).isTrue();

      var stopped = awaitStopped(client, task, 0);
      assertThat(stopped.stopCode()).isEqualTo("TerminationNotice");
      assertThat(stopped.stoppedReason()).contains("EvictionByEvictionAPI");
      assertRunOnce(client, task, creations, 1);
    }
  }

  @Test
  void tasksOnADeletedNodeStopAndTheirRunReleasesItsCapacity(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String group = namespace.name();
    String nodeName = "lost-" + namespace.name();
    client
        .resource(Fixtures.plainNode(nodeName, Map.of("nimbus.dev/node-group", group), "4", "8Gi"))
        .create();
    CapacityPool lonely =
        Fixtures.pool(
            group, "nimbus.dev/node-group", group, CapacityPoolSpec.WorkloadKind.ContainerTask);
    client.resource(lonely).create();
    try (var creations = PodCreations.watch(client, namespace.name(), TASK_LABEL)) {
      ContainerTask task =
          task(namespace, "stranded", 2, List.of(container("main", true, null, null)));
      task.setSpec(
          new ContainerTaskSpec(
              group,
              ContainerTaskSpec.LaunchType.FARGATE,
              task.getSpec().taskDefinition(),
              2,
              "LATEST",
              null));
      createWhenReferencesKnown(client, task);
      String uid = awaitRunning(client, task, 2).getMetadata().getUid();

      client.nodes().withName(nodeName).delete();

      for (int index = 0; index < 2; index++) {
        var stopped = awaitStopped(client, task, index);
        assertThat(stopped.stopCode()).isEqualTo("TerminationNotice");
        assertThat(stopped.stoppedReason()).contains("node " + nodeName + " is gone");
      }
      awaitTrue(() -> !ledger(client, group).containsKey(uid), 30);
      assertRunOnce(client, task, creations, 2);

      // Nothing waits for the node that is gone: the ContainerTask and its pods go.
      client.resource(task).delete();
      String ns = namespace.name();
      awaitTrue(
          () ->
              client.resource(task).get() == null
                  && client
                      .pods()
                      .inNamespace(ns)
                      .withLabel(TASK_LABEL)
                      .list()
                      .getItems()
                      .isEmpty(),
          60);
    } finally {
      client.resources(CapacityPool.class).withName(group).delete();
      client.nodes().withName(nodeName).delete();
    }
  }

  @Test
  void amongThreeTasksAnEssentialExitAndADeletedPodStopOnlyTheirOwnTasksAndOnce(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    ContainerTask task =
        task(
            namespace,
            "mixed",
            3,
            List.of(container("main", true, null, null), container("sidecar", false, null, null)));
    try (var creations = PodCreations.watch(client, namespace.name(), TASK_LABEL)) {
      createWhenReferencesKnown(client, task);
      awaitRunning(client, task, 3);

      // What the kubelet reports when task 1's essential container exits 2 and its sidecar runs on.
      Pod pod = client.pods().inNamespace(namespace.name()).withName("mixed-task-1").get();
      pod.getStatus()
          .setContainerStatuses(
              List.of(
                  new ContainerStatusBuilder()
                      .withName("main")
                      .withNewState()
                      .withNewTerminated()
                      .withExitCode(2)
                      .withReason("Error")
                      .withFinishedAt("2026-11-30T00:00:00Z")
                      .endTerminated()
                      .endState()
                      .build(),
                  new ContainerStatusBuilder()
                      .withName("sidecar")
                      .withNewState()
                      .withNewRunning()
                      .withStartedAt("2026-11-30T00:00:00Z")
                      .endRunning()
                      .endState()
                      .build()));
      client.pods().resource(pod).updateStatus();

      var stopped = awaitStopped(client, task, 1);
      assertThat(stopped.stopCode()).isEqualTo("EssentialContainerExited");
      assertThat(stopped.containers())
          .extracting(c -> c.name() + "=" + c.exitCode())
          .containsExactly("main=2", "sidecar=null");
      String ns = namespace.name();
      awaitStoppedByNimbus(client, ns, "mixed-task-1");

      // And task 2's pod is deleted by hand while task 0 runs on.
      client.pods().inNamespace(ns).withName("mixed-task-2").withGracePeriod(1).delete();
      assertThat(awaitStopped(client, task, 2).stopCode()).isEqualTo("UserInitiated");
      assertRunOnce(client, task, creations, 3);
      assertThat(client.resource(task).get().getStatus().tasks())
          .extracting(t -> t.lastStatus() + "/" + t.stopCode())
          .containsExactly(
              "RUNNING/null", "STOPPED/EssentialContainerExited", "STOPPED/UserInitiated");
    }
  }

  /**
   * Waits long enough for a task to have been started again (the defect took 8 s), then asserts
   * that every task of {@code task} had at most one pod, ever, and that every stopped task stays
   * stopped.
   */
  private static void assertRunOnce(
      KubernetesClient client, ContainerTask task, PodCreations creations, int tasks)
      throws InterruptedException {
    var stoppedBefore =
        client.resource(task).get().getStatus().tasks().stream()
            .map(ContainerTaskStatus.Task::lastStatus)
            .toList();
    Thread.sleep(10_000);
    assertThat(creations.byName())
        .as("pods created per task")
        .hasSize(tasks)
        .allSatisfy((name, created) -> assertThat(created).as(name).isEqualTo(1));
    var after = client.resource(task).get().getStatus().tasks();
    for (int index = 0; index < after.size(); index++) {
      if ("STOPPED".equals(stoppedBefore.get(index))) {
        assertThat(after.get(index).lastStatus())
            .as("task %d stays stopped", index)
            .isEqualTo("STOPPED");
      }
    }
  }

  private static ContainerTaskStatus.Task awaitStopped(
      KubernetesClient client, ContainerTask task, int index) {
    return client
        .resource(task)
        .waitUntilCondition(
            t ->
                t.getStatus() != null
                    && t.getStatus().tasks() != null
                    && t.getStatus().tasks().size() > index
                    && "STOPPED".equals(t.getStatus().tasks().get(index).lastStatus()),
            60,
            TimeUnit.SECONDS)
        .getStatus()
        .tasks()
        .get(index);
  }

  private static ContainerTask awaitComplete(KubernetesClient client, ContainerTask task) {
    return client
        .resource(task)
        .waitUntilCondition(
            t ->
                t.getStatus() != null
                    && t.getStatus().conditions() != null
                    && t.getStatus().conditions().stream()
                        .anyMatch(
                            c -> c.getType().equals("Complete") && c.getStatus().equals("True")),
            60,
            TimeUnit.SECONDS);
  }

  /**
   * Waits for Nimbus to stop a task's pod: deleted (with the pod's grace period, as ECS lets the
   * other containers stop) and its finalizer dropped; then for the pod to go. The node removes a
   * pod when its containers have stopped, at the latest when the grace period ends (30 s by
   * default; the local control plane picks a moment within it), so the second wait is longer.
   */
  private static void awaitStoppedByNimbus(KubernetesClient client, String namespace, String pod)
      throws InterruptedException {
    var resource = client.pods().inNamespace(namespace).withName(pod);
    awaitTrue(
        () -> {
          Pod seen = resource.get();
          return seen == null
              || (seen.getMetadata().getDeletionTimestamp() != null
                  && !seen.getMetadata().getFinalizers().contains(Names.TASK_POD_FINALIZER));
        },
        30,
        () -> "pod " + pod + " not deleted, or still held by Nimbus: " + resource.get());
    awaitTrue(() -> resource.get() == null, 60, () -> "pod " + pod + " not removed");
  }

  private static ContainerDefinition container(
      String name, boolean essential, String exitCode, String runFor) {
    List<ContainerDefinition.EnvVar> env = new ArrayList<>();
    if (exitCode != null) {
      env.add(new ContainerDefinition.EnvVar("NIMBUS_LOCAL_EXIT_CODE", exitCode));
    }
    if (runFor != null) {
      env.add(new ContainerDefinition.EnvVar("NIMBUS_LOCAL_RUN_FOR", runFor));
    }
    return new ContainerDefinition(
        name, "busybox:1.36", null, null, env.isEmpty() ? null : env, essential, null);
  }

  private static ContainerTask task(
      TestNamespace namespace, String name, int count, List<ContainerDefinition> containers) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(namespace.name()).build());
    task.setSpec(
        new ContainerTaskSpec(
            POOL,
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(name, 256, 512, containers),
            count,
            "LATEST",
            null));
    return task;
  }

  private static ContainerTaskSpec withSize(ContainerTaskSpec spec, int cpu, int memory) {
    var definition = spec.taskDefinition();
    return new ContainerTaskSpec(
        spec.cluster(),
        spec.launchType(),
        new TaskDefinition(definition.family(), cpu, memory, definition.containers()),
        spec.count(),
        spec.platformVersion(),
        spec.networkConfiguration());
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
    return ledger(client, POOL);
  }

  private static Map<String, ?> ledger(KubernetesClient client, String pool) {
    return StoredLedgers.read(client, NAMESPACE, pool).entries();
  }

  /**
   * Creates a tenant's own pod named {@code name} that carries the labels of task {@code index} of
   * {@code task}; returns its UID.
   */
  private static String tenantPod(
      KubernetesClient client, TestNamespace namespace, String name, String task, int index) {
    return client
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(namespace.name())
                .withLabels(Map.of(TASK_LABEL, task, INDEX_LABEL, "" + index))
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("busybox")
                .endContainer()
                .endSpec()
                .build())
        .create()
        .getMetadata()
        .getUid();
  }

  /** Creates the seed's {@code task} and the group it names; returns it once its 3 tasks run. */
  private static ContainerTask runWithItsGroup(
      KubernetesClient client, TestNamespace namespace, ContainerTask task) throws Exception {
    createWebGroup(client, namespace);
    createWhenReferencesKnown(client, task);
    return awaitRunning(client, task, 3);
  }

  /** Creates the SecurityGroup "web" that the seed's task names, with no rules. */
  private static void createWebGroup(KubernetesClient client, TestNamespace namespace) {
    SecurityGroup web = new SecurityGroup();
    web.setMetadata(
        new ObjectMetaBuilder().withName("web").withNamespace(namespace.name()).build());
    web.setSpec(new SecurityGroupSpec("web", List.of(), null));
    client.resource(web).create();
  }

  private static ContainerTask seedTask(TestNamespace namespace) {
    return seedTask(namespace, null);
  }

  /** The seed's run_task call; its container exits 0 after {@code runFor}, or runs on (null). */
  private static ContainerTask seedTask(TestNamespace namespace, String runFor) {
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
                        runFor == null
                            ? null
                            : List.of(
                                new ContainerDefinition.EnvVar("NIMBUS_LOCAL_EXIT_CODE", "0"),
                                new ContainerDefinition.EnvVar("NIMBUS_LOCAL_RUN_FOR", runFor)),
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
