package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** ECS's networkConfiguration; only awsvpcConfiguration exists, as for Fargate. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NetworkConfiguration(
    @JsonPropertyDescription("Subnets, security groups and public IP of the tasks.")
        AwsVpcConfiguration awsvpcConfiguration) {

  /** Where tasks run and who may reach them. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record AwsVpcConfiguration(
      @JsonPropertyDescription(
              "Subnets are topology zones here: each task runs on a node whose"
                  + " topology.kubernetes.io/zone label is one of these. Unset: any zone of the"
                  + " pool.")
          @Size(max = 16)
          @ValidationRule(
              value = "self.all(s, size(s) > 0 && size(s) <= 63)",
              message = "subnets must be zone names of 1 to 63 characters")
          @ItemMaxLength(63)
          List<String> subnets,
      @JsonPropertyDescription(
              "Names of SecurityGroups in this namespace that apply to tasks, at most 5 as in ECS.")
          @Size(max = 5)
          @ValidationRule(
              value = "self.all(g, g.matches('" + ApiGroup.DNS_LABEL + "'))",
              message = "securityGroups " + Rules.LABELS_MESSAGE)
          @ItemMaxLength(63)
          List<String> securityGroups,
      @JsonPropertyDescription(
              "ENABLED labels the tasks' pods so that they may be exposed outside the cluster"
                  + " (Nimbus adds no Service by itself); DISABLED keeps them cluster-internal."
                  + " Default DISABLED.")
          @Default("DISABLED")
          AssignPublicIp assignPublicIp) {}

  /** Whether tasks may be reached from outside the cluster. */
  public enum AssignPublicIp {
    ENABLED,
    DISABLED
  }
}
