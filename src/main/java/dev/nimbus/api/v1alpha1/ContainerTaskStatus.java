package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** The tasks of the run, as ECS DescribeTasks tells them. */
@JsonClassDescription(
    "The tasks of the run, as ECS DescribeTasks tells them. Written by the operator only.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ContainerTaskStatus(
    @JsonPropertyDescription(StatusDocs.OBSERVED_GENERATION) Long observedGeneration,
    @JsonPropertyDescription(
            StatusDocs.CONDITIONS
                + " Admitted tells whether the pool granted the tasks; Complete is True when every"
                + " task has stopped.")
        List<Condition> conditions,
    @JsonPropertyDescription("The CapacityPool the tasks run in.") String cluster,
    @JsonPropertyDescription("Tasks in PROVISIONING or PENDING.") Integer pendingCount,
    @JsonPropertyDescription("Tasks in RUNNING.") Integer runningCount,
    @JsonPropertyDescription("Tasks in STOPPED.") Integer stoppedCount,
    @JsonPropertyDescription("One entry per task.") List<Task> tasks,
    @JsonPropertyDescription("Tasks that could not be placed, as RunTask's failures.")
        List<Failure> failures,
    @JsonPropertyDescription(
            "The task definition the tasks run, when spec.taskDefinitionRef names one: the"
                + " revision as it was when the run was first seen, so that the run is told and"
                + " ended the same way even if the revision is deleted meanwhile.")
        TaskDefinition taskDefinition) {

  /** One task. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Task(
      @JsonPropertyDescription("arn:nimbus:ecs:<namespace>:task/<cluster>/<task id>.")
          String taskArn,
      @JsonPropertyDescription("The pod that runs the task.") String podName,
      @JsonPropertyDescription("The node the task runs on.") String node,
      @JsonPropertyDescription("The zone (subnet) of that node.") String availabilityZone,
      @JsonPropertyDescription("PROVISIONING, PENDING, RUNNING or STOPPED.") String lastStatus,
      @JsonPropertyDescription("RUNNING or STOPPED: where the task is going.") String desiredStatus,
      @JsonPropertyDescription(
              "Why the task stopped: EssentialContainerExited, TaskFailedToStart or"
                  + " UserInitiated.")
          String stopCode,
      @JsonPropertyDescription("The stop in words.") String stoppedReason,
      @JsonPropertyDescription("When the task was created (RFC 3339).") String createdAt,
      @JsonPropertyDescription("When its containers started.") String startedAt,
      @JsonPropertyDescription("When it stopped.") String stoppedAt,
      @JsonPropertyDescription("Its containers.") List<Container> containers) {}

  /** One container of a task. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Container(
      @JsonPropertyDescription("The container's name.") String name,
      @JsonPropertyDescription("PENDING, RUNNING or STOPPED.") String lastStatus,
      @JsonPropertyDescription("The exit code, once stopped.") Integer exitCode,
      @JsonPropertyDescription("Why it stopped, if known.") String reason) {}

  /** A task that could not be placed. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Failure(
      @JsonPropertyDescription("The ARN of the task or cluster concerned.") String arn,
      @JsonPropertyDescription("What went wrong, such as RESOURCE:CPU.") String reason,
      @JsonPropertyDescription("The failure in words.") String detail) {}
}
