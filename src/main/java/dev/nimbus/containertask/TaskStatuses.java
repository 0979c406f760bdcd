package dev.nimbus.containertask;

import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus.Container;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus.Failure;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus.Task;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.conditions.Conditions;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.SecurityGroupPolicy;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Computes a ContainerTask's ECS-shaped status from its pods; nothing here talks to the cluster. A
 * task's lastStatus follows its pod: PROVISIONING until the pod is placed, PENDING until its
 * containers run, RUNNING, then STOPPED when the pod has finished, is deleted or evicted, or its
 * node is gone. A task once STOPPED stays as it was told: a task runs once.
 *
 * <p>Kubernetes causes and the ECS stop codes they give:
 *
 * <ul>
 *   <li>an essential container exits: {@code EssentialContainerExited};
 *   <li>the pod fails before any container started: {@code TaskFailedToStart};
 *   <li>the ContainerTask is deleted, or its pod is deleted by hand: {@code UserInitiated};
 *   <li>the pod is evicted, preempted or otherwise disrupted (its {@code DisruptionTarget}
 *       condition), or its node is gone: {@code TerminationNotice};
 *   <li>the node chosen for a task is gone before its pod was created: {@code TaskFailedToStart}.
 * </ul>
 */
public final class TaskStatuses {
  static final String PROVISIONING = "PROVISIONING";
  static final String PENDING = "PENDING";
  static final String RUNNING = "RUNNING";
  static final String STOPPED = "STOPPED";
  static final String ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited";
  static final String TASK_FAILED_TO_START = "TaskFailedToStart";
  static final String USER_INITIATED = "UserInitiated";
  static final String TERMINATION_NOTICE = "TerminationNotice";
  static final String DISRUPTION_TARGET = "DisruptionTarget";

  private TaskStatuses() {}

  /**
   * What a reconcile observed of a ContainerTask's run: the pool, how many of its tasks were placed
   * and on which nodes, its pods by task index, which nodes exist, the time, and what became of its
   * security-group policy (null when not applied).
   */
  public record Observed(
      String pool,
      int placed,
      List<String> placementNodes,
      Map<Integer, Pod> pods,
      Function<String, String> zoneOfNode,
      Predicate<String> nodeExists,
      Instant now,
      SecurityGroupPolicy.Outcome securityGroups,
      TaskDefinition definition) {}

  /** The status of {@code task} from what was observed of it. */
  public static ContainerTaskStatus of(ContainerTask task, Observed observed) {
    String pool = observed.pool();
    int placed = observed.placed();
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
      Task previous = index < previousTasks.size() ? previousTasks.get(index) : null;
      // A stopped task stays as it was told: its pod may since be gone.
      if (previous != null && STOPPED.equals(previous.lastStatus())) {
        tasks.add(previous);
        continue;
      }
      String podName = Names.taskPod(task.getMetadata().getName(), index);
      Pod pod = observed.pods().get(index);
      tasks.add(
          pod != null
              ? task(task, arn, podName, pod, observed)
              : withoutPod(arn, podName, previous, placementNode(observed, index), observed));
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
            Conditions.ADMITTED,
            placed > 0,
            placed > 0 ? "Admitted" : Conditions.NOT_ADMITTED,
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
    if (observed.securityGroups() != null) {
      conditions =
          SecurityGroupPolicy.condition(
              conditions,
              observed.securityGroups(),
              Names.taskNetworkPolicy(task.getMetadata().getName()),
              generation);
    }
    return new ContainerTaskStatus(
        generation,
        conditions,
        pool,
        pending,
        running,
        stopped,
        tasks,
        failures.isEmpty() ? null : failures,
        task.getSpec().taskDefinitionRef() == null ? null : observed.definition());
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
        status.failures(),
        status.taskDefinition());
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

  private static String placementNode(Observed observed, int index) {
    return index < observed.placementNodes().size() ? observed.placementNodes().get(index) : null;
  }

  /**
   * A task whose pod does not exist: not created yet (PROVISIONING), never to be created because
   * the node chosen for it is gone, or gone after Nimbus saw it, which only a hand removed
   * finalizer allows: either way it is STOPPED and never started again.
   */
  private static Task withoutPod(
      String arn, String podName, Task previous, String placementNode, Observed observed) {
    String now = observed.now().toString();
    if (previous != null && previous.createdAt() != null) {
      return new Task(
          arn,
          podName,
          previous.node(),
          previous.availabilityZone(),
          STOPPED,
          STOPPED,
          USER_INITIATED,
          "Task stopped: its pod "
              + podName
              + " was removed before Nimbus saw it stop (its finalizer was removed by hand);"
              + " exit codes unknown",
          previous.createdAt(),
          previous.startedAt(),
          now,
          previous.containers());
    }
    if (placementNode != null && !observed.nodeExists().test(placementNode)) {
      return new Task(
          arn,
          podName,
          null,
          null,
          STOPPED,
          STOPPED,
          TASK_FAILED_TO_START,
          "Task failed to start: node " + placementNode + " left the cluster before it started",
          null,
          null,
          now,
          null);
    }
    return new Task(
        arn, podName, null, null, PROVISIONING, RUNNING, null, null, null, null, null, null);
  }

  private static Task task(
      ContainerTask owner, String arn, String podName, Pod pod, Observed observed) {
    var status = pod.getStatus();
    String phase = status == null ? null : status.getPhase();
    String node = pod.getSpec().getNodeName();
    List<Container> containers =
        containers(
            observed.definition(), status == null ? List.of() : status.getContainerStatuses());
    // As in ECS, a task stops when an essential container exits, whatever the others do.
    Container exitedEssential = null;
    for (int i = 0; i < containers.size(); i++) {
      boolean essential =
          !Boolean.FALSE.equals(observed.definition().containers().get(i).essential());
      if (essential && containers.get(i).lastStatus().equals(STOPPED)) {
        exitedEssential = containers.get(i);
        break;
      }
    }
    boolean started = containers.stream().anyMatch(c -> !c.lastStatus().equals(PENDING));
    boolean podDone = "Succeeded".equals(phase) || "Failed".equals(phase);
    String deletion = pod.getMetadata().getDeletionTimestamp();
    boolean nodeGone = node != null && !observed.nodeExists().test(node);
    // A deleted pod's task is stopping; it has stopped once its containers have, or once the
    // grace period of the deletion is over.
    boolean deletedAndDone =
        deletion != null
            && (podDone
                || containers.stream().allMatch(c -> c.lastStatus().equals(STOPPED))
                || !Instant.parse(deletion).isAfter(observed.now()));
    String stopCode = null;
    String reason = null;
    if (nodeGone) {
      stopCode = TERMINATION_NOTICE;
      reason = "Task stopped: node " + node + " is gone";
    } else if (deletedAndDone) {
      Optional<PodCondition> disruption = disruption(pod);
      stopCode = disruption.isPresent() ? TERMINATION_NOTICE : USER_INITIATED;
      reason =
          disruption
              .map(
                  d ->
                      "Task stopped: its pod "
                          + podName
                          + " was disrupted ("
                          + d.getReason()
                          + (d.getMessage() == null ? "" : ": " + d.getMessage())
                          + ")")
              .orElse("Task stopped: its pod " + podName + " was deleted");
    } else if (exitedEssential != null) {
      stopCode = ESSENTIAL_CONTAINER_EXITED;
      reason =
          "Essential container in task exited: "
              + exitedEssential.name()
              + " (exit code "
              + exitedEssential.exitCode()
              + ")";
    } else if (podDone) {
      stopCode = started ? ESSENTIAL_CONTAINER_EXITED : TASK_FAILED_TO_START;
      reason = started ? "Essential container in task exited" : "Task failed to start";
    }
    boolean stopped = stopCode != null;
    String lastStatus =
        stopped
            ? STOPPED
            : "Running".equals(phase) ? RUNNING : node == null ? PROVISIONING : PENDING;
    String stoppedAt =
        !stopped
            ? null
            : Objects.requireNonNullElse(
                stoppedAt(status == null ? null : status.getContainerStatuses()),
                observed.now().toString());
    return new Task(
        arn,
        podName,
        node,
        node == null ? null : observed.zoneOfNode().apply(node),
        lastStatus,
        stopped || deletion != null ? STOPPED : RUNNING,
        stopCode,
        reason,
        pod.getMetadata().getCreationTimestamp(),
        status == null ? null : status.getStartTime(),
        stoppedAt,
        containers);
  }

  /** The pod's DisruptionTarget condition: evicted, preempted, or deleted by the control plane. */
  private static Optional<PodCondition> disruption(Pod pod) {
    return pod.getStatus() == null || pod.getStatus().getConditions() == null
        ? Optional.empty()
        : pod.getStatus().getConditions().stream()
            .filter(c -> DISRUPTION_TARGET.equals(c.getType()) && "True".equals(c.getStatus()))
            .findFirst();
  }

  private static List<Container> containers(
      TaskDefinition taskDefinition, List<ContainerStatus> statuses) {
    List<Container> containers = new ArrayList<>();
    for (ContainerDefinition definition : taskDefinition.containers()) {
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
