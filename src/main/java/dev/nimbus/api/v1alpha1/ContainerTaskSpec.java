package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** What to run, in the words of ECS RunTask. */
@JsonClassDescription("What to run, in the words of ECS RunTask.")
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "has(self.taskDefinition) != has(self.taskDefinitionRef)",
    message =
        "set exactly one of taskDefinition (the definition itself) and taskDefinitionRef"
            + " (family:revision of a TaskDefinitionRevision)")
@ValidationRule(
    value = Rules.IMMUTABLE,
    message =
        "a ContainerTask's spec cannot change once it runs; delete it and create a new one, as"
            + " with ECS RunTask")
public record ContainerTaskSpec(
    @JsonPropertyDescription(
            "The CapacityPool to run in, ECS's cluster. Unset: the pool that is the default for"
                + " ContainerTasks.")
        @Size(max = 253)
        @ValidationRule(
            value = Rules.DNS_SUBDOMAIN,
            message =
                "cluster must be a CapacityPool name: lower-case letters, digits, '-' and '.'")
        String cluster,
    @JsonPropertyDescription("How tasks are launched. Only FARGATE is supported. Default FARGATE.")
        @Default("FARGATE")
        LaunchType launchType,
    @JsonPropertyDescription(
            "The task definition: task size and containers. Set this or taskDefinitionRef.")
        TaskDefinition taskDefinition,
    @JsonPropertyDescription(
            "A registered task definition, as ECS's RunTask names one: family:revision (kubectl"
                + " get taskdef lists them; RegisterTaskDefinition makes them). Set this or"
                + " taskDefinition. The revision is required, so that the object means the same"
                + " run whatever is registered later.")
        @Size(max = 266)
        @ValidationRule(
            value = TASK_DEFINITION_REF_RULE,
            message =
                "taskDefinitionRef must be family:revision, such as my-task-definition:1 (a family"
                    + " of letters, digits, '-' and '_'; a revision from 1)")
        String taskDefinitionRef,
    @JsonPropertyDescription("How many tasks to run, 1 to 10 as in ECS. Default 1.")
        @Default("1")
        @Min(1)
        @Max(10)
        Integer count,
    @JsonPropertyDescription(
            "The platform version, such as 1.4.0, or LATEST. It selects the isolation (runtime"
                + " class) that the pool gives tasks of that version. Default LATEST.")
        @Default("LATEST")
        @Size(max = 32)
        @ValidationRule(
            value = PLATFORM_VERSION_RULE,
            message = "platformVersion must be LATEST or a version such as 1.4.0")
        String platformVersion,
    @JsonPropertyDescription("Where the tasks' network sits and who may reach it.")
        NetworkConfiguration networkConfiguration) {

  static final String TASK_DEFINITION_REF_RULE =
      "self.matches('^[a-zA-Z0-9_-]{1,255}:[1-9][0-9]{0,8}$')";

  /** A task that runs {@code taskDefinition}, written out. */
  public ContainerTaskSpec(
      String cluster,
      LaunchType launchType,
      TaskDefinition taskDefinition,
      Integer count,
      String platformVersion,
      NetworkConfiguration networkConfiguration) {
    this(cluster, launchType, taskDefinition, null, count, platformVersion, networkConfiguration);
  }

  static final String PLATFORM_VERSION_RULE =
      "self.matches('^(LATEST|[0-9]+\\\\.[0-9]+\\\\.[0-9]+)$')";

  /** The launch types Nimbus offers. */
  public enum LaunchType {
    FARGATE
  }
}
