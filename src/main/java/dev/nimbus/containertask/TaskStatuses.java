package dev.nimbus.containertask;

import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus.Container;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus.Failure;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus.Task;
import dev.nimbus.conditions.Conditions;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Computes a ContainerTask's ECS-shaped status from its pods; nothing here talks to the cluster. A
 * task's lastStatus follows its pod: PROVISIONING until the pod is placed, PENDING until its
 * containers run, RUNNING, then STOPPED when the pod has finished.
 */
public final class TaskStatuses {
  static final String PROVISIONING = "PROVISIONING";
  static final String PENDING = "PENDING";
  static final String RUNNING = "RUNNING";
  static final String STOPPED = "STOPPED";

  private TaskStatuses() {}

  /**
   * The status of {@code task}, of which {@code placed} tasks were admitted into {@code pool};
   * {@code pods} maps a task's index to its pod, when it exists.
   */
  public static ContainerTaskStatus of(
      ContainerTask task,
      String pool,
      int placed,
      Map<Integer, Pod> pods,
      Function<String, String> zoneOfNode) {
    String namespace = task.getMetadata().getNamespace();
    String uid = task.getMetadata().getUid();
    long generation = Objects.requireNonNullElse(task.getMetadata().getGeneration(), 1L);
    int count = Objects.requireNonNullElse(task.getSpec().count(), 1);
    List<Task> tasks = new ArrayList<>();
    for (int index = 0; index < placed; index++) {
      String arn = Names.taskArn(namespace, pool, Names.taskId(uid, index));
      tasks.add(
          task(
              task,
              arn,
              Names.taskPod(task.getMetadata().getName(), index),
              pods.get(index),
              zoneOfNode));
    }
    List<Failure> failures = new ArrayList<>();
    for (int index = placed; index < count; index++) {
      failures.add(
          new Failure(
              Names.taskArn(namespace, pool, Names.taskId(uid, index)),
              "RESOURCE",
              "pool \"" + pool + "\" had no room for this task when the run was admitted"));
    }
    int running = (int) tasks.stream().filter(t -> t.lastStatus().equals(RUNNING)).count();
    int stopped = (int) tasks.stream().filter(t -> t.lastStatus().equals(STOPPED)).count();
    int pending = tasks.size() - running - stopped;
    var previous = task.getStatus() == null ? null : task.getStatus().conditions();
    var conditions =
        Conditions.set(
            previous,
            "Admitted",
            placed > 0,
            placed > 0 ? "Admitted" : "NotAdmitted",
            placed + " of " + count + " task(s) placed in pool " + pool,
            generation);
    boolean failed = tasks.stream().anyMatch(TaskStatuses::failed);
    boolean ready = placed > 0 && (running == placed || (stopped == placed && !failed));
    String reason =
        ready ? (stopped == placed ? "Complete" : "Running") : failed ? "TaskFailed" : "Starting";
    conditions =
        Conditions.set(
            conditions,
            "Ready",
            ready,
            reason,
            running + " running, " + pending + " pending, " + stopped + " stopped",
            generation);
    conditions =
        Conditions.set(
            conditions,
            "Complete",
            placed > 0 && stopped == placed,
            stopped == placed ? "AllTasksStopped" : "TasksRunning",
            stopped + " of " + placed + " task(s) stopped",
            generation);
    return new ContainerTaskStatus(
        generation,
        conditions,
        pool,
        pending,
        running,
        stopped,
        tasks,
        failures.isEmpty() ? null : failures);
  }

  /** Whether the run is over: at least one task was placed, and every placed task stopped. */
  public static boolean allStopped(ContainerTaskStatus status) {
    return status.tasks() != null
        && !status.tasks().isEmpty()
        && status.tasks().stream().allMatch(t -> t.lastStatus().equals(STOPPED));
  }

  private static boolean failed(Task task) {
    return task.lastStatus().equals(STOPPED)
        && task.containers() != null
        && task.containers().stream().anyMatch(c -> c.exitCode() != null && c.exitCode() != 0);
  }

  private static Task task(
      ContainerTask owner,
      String arn,
      String podName,
      Pod pod,
      Function<String, String> zoneOfNode) {
    if (pod == null) {
      return new Task(
          arn, podName, null, null, PROVISIONING, RUNNING, null, null, null, null, null, null);
    }
    var status = pod.getStatus();
    String phase = status == null ? null : status.getPhase();
    String node = pod.getSpec().getNodeName();
    String lastStatus =
        "Running".equals(phase)
            ? RUNNING
            : "Succeeded".equals(phase) || "Failed".equals(phase)
                ? STOPPED
                : node == null ? PROVISIONING : PENDING;
    List<Container> containers =
        containers(owner, status == null ? List.of() : status.getContainerStatuses());
    boolean stopped = lastStatus.equals(STOPPED);
    boolean started = containers.stream().anyMatch(c -> !c.lastStatus().equals(PENDING));
    return new Task(
        arn,
        podName,
        node,
        node == null ? null : zoneOfNode.apply(node),
        lastStatus,
        stopped ? STOPPED : RUNNING,
        stopped ? (started ? "EssentialContainerExited" : "TaskFailedToStart") : null,
        stopped ? (started ? "Essential container in task exited" : "Task failed to start") : null,
        pod.getMetadata().getCreationTimestamp(),
        status == null ? null : status.getStartTime(),
        stopped ? stoppedAt(status.getContainerStatuses()) : null,
        containers);
  }

  private static List<Container> containers(ContainerTask owner, List<ContainerStatus> statuses) {
    List<Container> containers = new ArrayList<>();
    for (ContainerDefinition definition : owner.getSpec().taskDefinition().containers()) {
      ContainerStatus status =
          statuses == null
              ? null
              : statuses.stream()
                  .filter(s -> s.getName().equals(definition.name()))
                  .findFirst()
                  .orElse(null);
      if (status == null || status.getState() == null) {
        containers.add(new Container(definition.name(), PENDING, null, null));
      } else if (status.getState().getTerminated() != null) {
        var terminated = status.getState().getTerminated();
        containers.add(
            new Container(
                definition.name(), STOPPED, terminated.getExitCode(), terminated.getReason()));
      } else if (status.getState().getRunning() != null) {
        containers.add(new Container(definition.name(), RUNNING, null, null));
      } else {
        var waiting = status.getState().getWaiting();
        containers.add(
            new Container(
                definition.name(), PENDING, null, waiting == null ? null : waiting.getReason()));
      }
    }
    return containers;
  }

  private static String stoppedAt(List<ContainerStatus> statuses) {
    return statuses == null
        ? null
        : statuses.stream()
            .map(s -> s.getState() == null ? null : s.getState().getTerminated())
            .filter(Objects::nonNull)
            .map(t -> t.getFinishedAt())
            .filter(Objects::nonNull)
            .max(String::compareTo)
            .orElse(null);
  }
}
