package dev.nimbus.containertask;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** ECS-shaped status from pods, computed without a cluster. */
class TaskStatusesTest {
  @Test
  void eachTaskFollowsItsPodAndUnplacedTasksAreFailures() {
    Map<Integer, Pod> pods = new HashMap<>();
    pods.put(1, pod(null, "Pending", null));
    pods.put(2, pod("plain-0", "Pending", null));
    pods.put(3, pod("plain-1", "Running", null));
    pods.put(4, pod("plain-2", "Failed", 3));

    ContainerTaskStatus status =
        statusOf(task(6), observed("tasks", 5, pods, node -> "zone-" + node.charAt(6)));

    assertThat(status.tasks())
        .extracting(ContainerTaskStatus.Task::lastStatus)
        .containsExactly("PROVISIONING", "PROVISIONING", "PENDING", "RUNNING", "STOPPED");
    ContainerTaskStatus.Task stopped = status.tasks().get(4);
    assertThat(stopped.desiredStatus()).isEqualTo("STOPPED");
    assertThat(stopped.stopCode()).isEqualTo("EssentialContainerExited");
    assertThat(stopped.containers().get(0).exitCode()).isEqualTo(3);
    assertThat(stopped.availabilityZone()).isEqualTo("zone-2");
    assertThat(status.runningCount()).isEqualTo(1);
    assertThat(status.stoppedCount()).isEqualTo(1);
    assertThat(status.pendingCount()).isEqualTo(3);
    assertThat(status.failures()).hasSize(1);
    assertThat(status.failures().get(0).reason()).isEqualTo("RESOURCE");
    assertThat(status.conditions())
        .anySatisfy(
            c ->
                assertThat(c.getType() + "=" + c.getStatus() + "/" + c.getReason())
                    .isEqualTo("Ready=False/TaskFailed"));
  }

  @Test
  void aRunWhoseTasksAllExitedZeroIsComplete() {
    ContainerTaskStatus status =
        statusOf(
            task(2),
            observed(
                "tasks",
                2,
                Map.of(0, pod("plain-0", "Succeeded", 0), 1, pod("plain-1", "Succeeded", 0)),
                n -> "zone-a"));

    assertThat(status.conditions())
        .extracting(c -> c.getType() + "=" + c.getStatus() + "/" + c.getReason())
        .contains("Ready=True/Complete", "Complete=True/AllTasksStopped");
  }

  @Test
  void theSameObservationsGiveAnEqualStatus() {
    ContainerTask task = task(1);
    ContainerTaskStatus first =
        statusOf(
            task, observed("tasks", 1, Map.of(0, pod("plain-0", "Running", null)), n -> "zone-a"));
    task.setStatus(first);

    assertThat(
            statusOf(
                task,
                observed("tasks", 1, Map.of(0, pod("plain-0", "Running", null)), n -> "zone-a")))
        .as("no status write when nothing changed")
        .isEqualTo(first);
  }

  @Test
  void anEssentialContainerThatExitsStopsTheTaskANonEssentialOneDoesNot() {
    ContainerTask task = sidecarTask();
    Pod sidecarExited = twoContainers("Running", 1, null);
    Pod mainExited = twoContainers("Running", null, 7);

    ContainerTaskStatus status =
        statusOf(
            task, observed("tasks", 2, Map.of(0, sidecarExited, 1, mainExited), n -> "zone-a"));

    ContainerTaskStatus.Task keepsRunning = status.tasks().get(0);
    assertThat(keepsRunning.lastStatus()).isEqualTo("RUNNING");
    assertThat(keepsRunning.containers())
        .extracting(c -> c.name() + "=" + c.lastStatus() + "/" + c.exitCode())
        .containsExactly("main=RUNNING/null", "sidecar=STOPPED/1");
    ContainerTaskStatus.Task stopped = status.tasks().get(1);
    assertThat(stopped.lastStatus()).isEqualTo("STOPPED");
    assertThat(stopped.stopCode()).isEqualTo("EssentialContainerExited");
    assertThat(stopped.stoppedReason())
        .isEqualTo("Essential container in task exited: main (exit code 7)");

    // Once told, a stop stays as it was told, even after the pod is gone.
    task.setStatus(status);
    assertThat(
            statusOf(task, observed("tasks", 2, Map.of(0, sidecarExited), n -> "zone-a"))
                .tasks()
                .get(1))
        .isEqualTo(stopped);
  }

  @Test
  void deletionStopsTheRunningTasksWithUserInitiated() {
    ContainerTask task = task(2);
    ContainerTaskStatus status =
        statusOf(
            task,
            observed(
                "tasks",
                2,
                Map.of(0, pod("plain-0", "Running", null), 1, pod("plain-1", "Failed", 2)),
                n -> "zone-a"));

    ContainerTaskStatus deleted = TaskStatuses.stoppedByUser(status, "2026-11-27T01:00:00Z");

    assertThat(deleted.tasks())
        .extracting(t -> t.lastStatus() + "/" + t.stopCode())
        .containsExactly("STOPPED/UserInitiated", "STOPPED/EssentialContainerExited");
    assertThat(deleted.tasks().get(0).stoppedAt()).isEqualTo("2026-11-27T01:00:00Z");
    assertThat(deleted.runningCount()).isZero();
    assertThat(deleted.stoppedCount()).isEqualTo(2);
  }

  private static Pod twoContainers(String phase, Integer sidecarExit, Integer mainExit) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("p")
        .withCreationTimestamp("2026-11-29T00:00:00Z")
        .endMetadata()
        .withNewSpec()
        .withNodeName("plain-0")
        .endSpec()
        .withNewStatus()
        .withPhase(phase)
        .withContainerStatuses(container("main", mainExit), container("sidecar", sidecarExit))
        .endStatus()
        .build();
  }

  private static ContainerStatus container(String name, Integer exitCode) {
    var state = new ContainerStateBuilder();
    if (exitCode == null) {
      state.withNewRunning().endRunning();
    } else {
      state
          .withNewTerminated()
          .withExitCode(exitCode)
          .withFinishedAt("2026-11-27T00:00:00Z")
          .endTerminated();
    }
    return new ContainerStatusBuilder().withName(name).withState(state.build()).build();
  }

  private static ContainerTask sidecarTask() {
    ContainerTask task = task(2);
    task.setSpec(
        new ContainerTaskSpec(
            "tasks",
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(
                "run",
                256,
                512,
                List.of(
                    new ContainerDefinition("main", "busybox", null, null, null, true, null),
                    new ContainerDefinition("sidecar", "busybox", null, null, null, false, null))),
            2,
            "LATEST",
            null));
    return task;
  }

  /** The time the lifecycle cases below are observed at. */
  private static final Instant NOW = Instant.parse("2026-11-30T00:00:00Z");

  @Test
  void aDeletedPodsTaskIsStoppingUntilItsGracePeriodEndsThenStoppedByTheUser() {
    Pod deleted = pod("plain-0", "Running", null);
    deleted.getMetadata().setDeletionTimestamp(NOW.plusSeconds(20).toString());

    var stopping = statusOf(task(1), lifecycle(1, Map.of(0, deleted))).tasks();
    assertThat(stopping.get(0).lastStatus() + "/" + stopping.get(0).desiredStatus())
        .isEqualTo("RUNNING/STOPPED");

    deleted.getMetadata().setDeletionTimestamp(NOW.minusSeconds(1).toString());
    var stopped = statusOf(task(1), lifecycle(1, Map.of(0, deleted))).tasks();
    assertThat(stopped.get(0).lastStatus()).isEqualTo("STOPPED");
    assertThat(stopped.get(0).stopCode()).isEqualTo("UserInitiated");
    assertThat(stopped.get(0).stoppedReason())
        .isEqualTo("Task stopped: its pod run-task-0 was deleted");
  }

  @Test
  void anEvictedPodsTaskStopsWithTerminationNoticeAndTheDisruptionsReason() {
    Pod evicted = pod("plain-0", "Running", 137);
    evicted.getMetadata().setDeletionTimestamp(NOW.plusSeconds(20).toString());
    evicted
        .getStatus()
        .setConditions(
            List.of(
                new PodConditionBuilder()
                    .withType("DisruptionTarget")
                    .withStatus("True")
                    .withReason("EvictionByEvictionAPI")
                    .withMessage("Eviction API: evicting")
                    .build()));

    var task = statusOf(task(1), lifecycle(1, Map.of(0, evicted))).tasks();

    assertThat(task.get(0).lastStatus()).as("its containers have exited").isEqualTo("STOPPED");
    assertThat(task.get(0).stopCode()).isEqualTo("TerminationNotice");
    assertThat(task.get(0).stoppedReason())
        .isEqualTo(
            "Task stopped: its pod run-task-0 was disrupted (EvictionByEvictionAPI: Eviction API:"
                + " evicting)");
    assertThat(task.get(0).containers().get(0).exitCode()).isEqualTo(137);
  }

  @Test
  void aTaskWhoseNodeIsGoneStopsAndOneWhosePlacementIsGoneNeverStarts() {
    Map<Integer, Pod> pods = Map.of(0, pod("plain-0", "Running", null));
    var observed =
        new TaskStatuses.Observed(
            "tasks",
            2,
            List.of("plain-0", "plain-1"),
            pods,
            n -> "zone-a",
            n -> false,
            NOW,
            null,
            null);

    var tasks = statusOf(task(2), observed).tasks();

    assertThat(tasks.get(0).stopCode() + ": " + tasks.get(0).stoppedReason())
        .isEqualTo("TerminationNotice: Task stopped: node plain-0 is gone");
    assertThat(tasks.get(1).stopCode() + ": " + tasks.get(1).stoppedReason())
        .isEqualTo(
            "TaskFailedToStart: Task failed to start: node plain-1 left the cluster before it"
                + " started");
  }

  @Test
  void aTaskOnceSeenIsStoppedWhenItsPodVanishesAndAStoppedTaskStaysAsTold() {
    ContainerTask run = task(2);
    var seen =
        statusOf(
            run,
            lifecycle(
                2, Map.of(0, pod("plain-0", "Running", null), 1, pod("plain-1", "Failed", 2))));
    run.setStatus(seen);

    // Both pods are gone: one by a finalizer removed by hand, the other after its stop was told.
    var after = statusOf(run, lifecycle(2, Map.of())).tasks();

    assertThat(after.get(0).lastStatus() + "/" + after.get(0).stopCode())
        .isEqualTo("STOPPED/UserInitiated");
    assertThat(after.get(0).stoppedReason()).contains("was removed before Nimbus saw it stop");
    assertThat(after.get(1)).isEqualTo(seen.tasks().get(1));
  }

  /** {@code placed} tasks observed at {@link #NOW}, with every node present. */
  private static TaskStatuses.Observed lifecycle(int placed, Map<Integer, Pod> pods) {
    return new TaskStatuses.Observed(
        "tasks", placed, List.of(), pods, n -> "zone-a", n -> true, NOW, null, null);
  }

  private static Pod pod(String node, String phase, Integer exitCode) {
    var state = new ContainerStateBuilder();
    if (exitCode != null) {
      state
          .withNewTerminated()
          .withExitCode(exitCode)
          .withFinishedAt("2026-11-27T00:00:00Z")
          .endTerminated();
    } else if (phase.equals("Running")) {
      state.withNewRunning().endRunning();
    } else {
      state.withNewWaiting().withReason("ContainerCreating").endWaiting();
    }
    return new PodBuilder()
        .withNewMetadata()
        .withName("p")
        .withCreationTimestamp("2026-11-29T00:00:00Z")
        .endMetadata()
        .withNewSpec()
        .withNodeName(node)
        .endSpec()
        .withNewStatus()
        .withPhase(phase)
        .withContainerStatuses(
            new ContainerStatusBuilder().withName("main").withState(state.build()).build())
        .endStatus()
        .build();
  }

  private static ContainerTask task(int count) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName("run")
            .withNamespace("ns")
            .withUid("u")
            .withGeneration(1L)
            .build());
    task.setSpec(
        new ContainerTaskSpec(
            "tasks",
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(
                "run",
                256,
                512,
                List.of(new ContainerDefinition("main", "busybox", null, null, null, true, null))),
            count,
            "LATEST",
            null));
    return task;
  }

  private static TaskStatuses.Observed observed(
      String pool, int placed, Map<Integer, Pod> pods, Function<String, String> zoneOfNode) {
    return new TaskStatuses.Observed(
        pool,
        placed,
        List.of(),
        pods,
        zoneOfNode,
        node -> true,
        Instant.parse("2026-11-30T00:00:00Z"),
        null,
        null);
  }

  /** The status of {@code task} as observed, running its own task definition. */
  private static ContainerTaskStatus statusOf(ContainerTask task, TaskStatuses.Observed o) {
    return TaskStatuses.of(
        task,
        new TaskStatuses.Observed(
            o.pool(),
            o.placed(),
            o.placementNodes(),
            o.pods(),
            o.zoneOfNode(),
            o.nodeExists(),
            o.now(),
            o.securityGroups(),
            task.getSpec().taskDefinition()));
  }
}
