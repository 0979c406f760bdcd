package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * One container of a task. Only what ECS lets a Fargate task set is here: there is no field for
 * privileges, host paths or host namespaces, and Nimbus runs every container non-root with no
 * capabilities.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ContainerDefinition(
    @JsonPropertyDescription("The container's name, a DNS label unique within the task.")
        @Required
        @Size(max = 63)
        @ValidationRule(value = Rules.DNS_LABEL, message = "name " + Rules.LABEL_MESSAGE)
        String name,
    @JsonPropertyDescription("The container image, such as public.ecr.aws/nginx/nginx:1.27.")
        @Required
        @Size(min = 1, max = 512)
        String image,
    @JsonPropertyDescription(
            "The command to run, replacing the image's ENTRYPOINT (ECS entryPoint). Unset: the"
                + " image's.")
        @Size(max = 64)
        @ItemMaxLength(4096)
        List<String> command,
    @JsonPropertyDescription(
            "Arguments to the command, replacing the image's CMD (ECS command). Unset: the"
                + " image's.")
        @Size(max = 256)
        @ItemMaxLength(4096)
        List<String> args,
    @JsonPropertyDescription("Environment variables.") @Size(max = 256) List<EnvVar> env,
    @JsonPropertyDescription(
            "Whether the task stops when this container exits, as in ECS. At least one"
                + " container of a task is essential. Default true.")
        @Default("true")
        Boolean essential,
    @JsonPropertyDescription("Ports the container listens on (ECS portMappings).") @Size(max = 32)
        List<PortMapping> ports) {

  /** One environment variable. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record EnvVar(
      @JsonPropertyDescription("The variable's name.")
          @Required
          @Size(min = 1, max = 256)
          @ValidationRule(
              value = "self.matches('^[-._a-zA-Z][-._a-zA-Z0-9]*$')",
              message =
                  "env name must start with a letter, '_', '-' or '.' and hold only those and"
                      + " digits")
          String name,
      @JsonPropertyDescription("The variable's value.") @Size(max = 32768) String value) {}

  /** One port. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record PortMapping(
      @JsonPropertyDescription("The port, 1 to 65535.") @Required @Min(1) @Max(65535)
          Integer containerPort,
      @JsonPropertyDescription("tcp or udp. Default tcp.") @Default("tcp") Protocol protocol) {}

  /** The transport protocols of a port. */
  public enum Protocol {
    tcp,
    udp
  }
}
