package dev.nimbus.containertask;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
        TaskStatuses.of(task(6), "tasks", 5, pods, node -> "zone-" + node.charAt(6));

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
        TaskStatuses.of(
            task(2),
            "tasks",
            2,
            Map.of(0, pod("plain-0", "Succeeded", 0), 1, pod("plain-1", "Succeeded", 0)),
            n -> "zone-a");

    assertThat(status.conditions())
        .extracting(c -> c.getType() + "=" + c.getStatus() + "/" + c.getReason())
        .contains("Ready=True/Complete", "Complete=True/AllTasksStopped");
  }

  @Test
  void theSameObservationsGiveAnEqualStatus() {
    ContainerTask task = task(1);
    ContainerTaskStatus first =
        TaskStatuses.of(
            task, "tasks", 1, Map.of(0, pod("plain-0", "Running", null)), n -> "zone-a");
    task.setStatus(first);

    assertThat(
            TaskStatuses.of(
                task, "tasks", 1, Map.of(0, pod("plain-0", "Running", null)), n -> "zone-a"))
        .as("no status write when nothing changed")
        .isEqualTo(first);
  }

  private static Pod pod(String node, String phase, Integer exitCode) {
    var state = new io.fabric8.kubernetes.api.model.ContainerStateBuilder();
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
}
