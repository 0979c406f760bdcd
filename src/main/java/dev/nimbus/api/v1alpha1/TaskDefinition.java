package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * A task's size and containers. cpu and memory must form one of the pairs that Fargate offers, the
 * rule below; containers share them.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = TaskDefinition.FARGATE_PAIRS, message = TaskDefinition.FARGATE_MESSAGE)
@ValidationRule(
    value = "self.containers.exists(c, !has(c.essential) || c.essential)",
    message = "at least one container must be essential")
@ValidationRule(
    value = "self.containers.all(c, self.containers.exists_one(d, d.name == c.name))",
    message = "container names must be unique within a task definition")
@ValidationRule(
    value = TaskDefinition.TEXT_SIZE + " <= 65536",
    message = TaskDefinition.TEXT_MESSAGE)
public record TaskDefinition(
    @JsonPropertyDescription(
            "A name for the task definition, as ECS's family; shown in status and on the pods.")
        @Size(max = 255)
        @ValidationRule(
            value = "self.matches('^[a-zA-Z0-9_-]+$')",
            message = "family may hold letters, digits, '-' and '_' only")
        String family,
    @JsonPropertyDescription(
            "Task CPU in ECS CPU units, 1024 per vCPU: 256, 512, 1024, 2048, 4096, 8192 or"
                + " 16384.")
        @Required
        Integer cpu,
    @JsonPropertyDescription(
            "Task memory in MiB. Allowed per cpu: 256 → 512, 1024, 2048; 512 → 1024 to 4096;"
                + " 1024 → 2048 to 8192; 2048 → 4096 to 16384 (steps of 1024); 4096 → 8192 to"
                + " 30720 (steps of 1024); 8192 → 16384 to 61440 (steps of 4096); 16384 → 32768"
                + " to 122880 (steps of 8192).")
        @Required
        Integer memory,
    @JsonPropertyDescription("The containers of each task, 1 to 10.")
        @Required
        @Size(min = 1, max = 10)
        List<ContainerDefinition> containers) {

  static final String FARGATE_PAIRS =
      "(self.cpu == 256 && self.memory in [512, 1024, 2048])"
          + " || (self.cpu == 512 && self.memory >= 1024 && self.memory <= 4096"
          + " && self.memory % 1024 == 0)"
          + " || (self.cpu == 1024 && self.memory >= 2048 && self.memory <= 8192"
          + " && self.memory % 1024 == 0)"
          + " || (self.cpu == 2048 && self.memory >= 4096 && self.memory <= 16384"
          + " && self.memory % 1024 == 0)"
          + " || (self.cpu == 4096 && self.memory >= 8192 && self.memory <= 30720"
          + " && self.memory % 1024 == 0)"
          + " || (self.cpu == 8192 && self.memory >= 16384 && self.memory <= 61440"
          + " && self.memory % 4096 == 0)"
          + " || (self.cpu == 16384 && self.memory >= 32768 && self.memory <= 122880"
          + " && self.memory % 8192 == 0)";

  /**
   * CEL: the characters of every container's command, args and environment together. ECS limits a
   * task definition to 64 KiB; the same bound keeps a ContainerTask, and the pods made of it, small
   * wherever they are kept, whatever each list's own limit allows.
   */
  static final String TEXT_SIZE =
      "self.containers.map(c,"
          + " (has(c.command) ? c.command.map(s, size(s)).sum() : 0)"
          + " + (has(c.args) ? c.args.map(s, size(s)).sum() : 0)"
          + " + (has(c.env) ? c.env.map(e, size(e.name)"
          + " + (has(e.value) ? size(e.value) : 0)).sum() : 0)).sum()";

  static final String TEXT_MESSAGE =
      "the containers' command, args and env may hold at most 65536 characters in all, as ECS"
          + " limits a task definition to 64 KiB";

  static final String FARGATE_MESSAGE =
      "cpu and memory must be a Fargate pair (cpu units → memory MiB): 256 → 512, 1024 or 2048;"
          + " 512 → 1024-4096; 1024 → 2048-8192; 2048 → 4096-16384 (steps of 1024);"
          + " 4096 → 8192-30720 (steps of 1024); 8192 → 16384-61440 (steps of 4096);"
          + " 16384 → 32768-122880 (steps of 8192)";
}
