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
  static final String ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited";
  static final String TASK_FAILED_TO_START = "TaskFailedToStart";
  static final String USER_INITIATED = "UserInitiated";

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
    List<Task> previousTasks =
        task.getStatus() == null || task.getStatus().tasks() == null
            ? List.of()
            : task.getStatus().tasks();
    List<Task> tasks = new ArrayList<>();
    for (int index = 0; index < placed; index++) {
      String arn = Names.taskArn(namespace, pool, Names.taskId(uid, index));
      // A stopped task stays as it was told: its pod may since be gone.
      if (index < previousTasks.size() && STOPPED.equals(previousTasks.get(index).lastStatus())) {
        tasks.add(previousTasks.get(index));
        continue;
      }
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

  /**
   * {@code status} with every task that has not stopped yet stopped by the user (ECS StopTask; here
   * the ContainerTask's deletion), at {@code now}.
   */
  public static ContainerTaskStatus stoppedByUser(ContainerTaskStatus status, String now) {
    if (status.tasks() == null) {
      return status;
    }
    List<Task> tasks =
        status.tasks().stream()
            .map(
                t ->
                    t.lastStatus().equals(STOPPED)
                        ? t
                        : new Task(
                            t.taskArn(),
                            t.podName(),
                            t.node(),
                            t.availabilityZone(),
                            STOPPED,
                            STOPPED,
                            USER_INITIATED,
                            "Task stopped by the user: its ContainerTask was deleted",
                            t.createdAt(),
                            t.startedAt(),
                            now,
                            t.containers()))
            .toList();
    return new ContainerTaskStatus(
        status.observedGeneration(),
        status.conditions(),
        status.cluster(),
        0,
        0,
        tasks.size(),
        tasks,
        status.failures());
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
    List<Container> containers =
        containers(owner, status == null ? List.of() : status.getContainerStatuses());
    // As in ECS, a task stops when an essential container exits, whatever the others do.
    Container exitedEssential = null;
    for (int i = 0; i < containers.size(); i++) {
      boolean essential =
          !Boolean.FALSE.equals(owner.getSpec().taskDefinition().containers().get(i).essential());
      if (essential && containers.get(i).lastStatus().equals(STOPPED)) {
        exitedEssential = containers.get(i);
        break;
      }
    }
    boolean podDone = "Succeeded".equals(phase) || "Failed".equals(phase);
    boolean stopped = podDone || exitedEssential != null;
    String lastStatus =
        stopped
            ? STOPPED
            : "Running".equals(phase) ? RUNNING : node == null ? PROVISIONING : PENDING;
    boolean started = containers.stream().anyMatch(c -> !c.lastStatus().equals(PENDING));
    String reason =
        exitedEssential != null
            ? "Essential container in task exited: "
                + exitedEssential.name()
                + " (exit code "
                + exitedEssential.exitCode()
                + ")"
            : started ? "Essential container in task exited" : "Task failed to start";
    return new Task(
        arn,
        podName,
        node,
        node == null ? null : zoneOfNode.apply(node),
        lastStatus,
        stopped ? STOPPED : RUNNING,
        stopped ? (started ? ESSENTIAL_CONTAINER_EXITED : TASK_FAILED_TO_START) : null,
        stopped ? reason : null,
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
