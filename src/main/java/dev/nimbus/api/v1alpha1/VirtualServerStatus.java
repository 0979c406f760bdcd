package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** What runs, as EC2 DescribeInstances would tell it. */
@JsonClassDescription(
    "What runs, as EC2 DescribeInstances would tell it. Written by the operator only.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VirtualServerStatus(
    @JsonPropertyDescription(StatusDocs.OBSERVED_GENERATION) Long observedGeneration,
    @JsonPropertyDescription(
            StatusDocs.CONDITIONS
                + " Admitted tells whether the pool granted the instances and how many;"
                + " KubeVirtUnavailable is True while the cluster lacks KubeVirt.")
        List<Condition> conditions,
    @JsonPropertyDescription("The CapacityPool the instances run in.") String pool,
    @JsonPropertyDescription("How many instances the spec asks for: maxCount.")
        Integer desiredCount,
    @JsonPropertyDescription(
            "How many instances the pool admitted, between minCount and maxCount; 0 while"
                + " stopped.")
        Integer admittedCount,
    @JsonPropertyDescription("How many instances are running and ready.") Integer readyCount,
    @JsonPropertyDescription("One entry per admitted instance, in index order.")
        List<InstanceStatus> instances) {

  /** One instance. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record InstanceStatus(
      @JsonPropertyDescription(
              "The instance id, i- and 17 hex digits as in EC2; stable for the instance's life.")
          String instanceId,
      @JsonPropertyDescription("The name of the KubeVirt VirtualMachine that runs it.")
          String vmName,
      @JsonPropertyDescription("The node it runs on.") String node,
      @JsonPropertyDescription("Its private IP address.") String privateIp,
      @JsonPropertyDescription(
              "The EC2 instance state: pending, running, stopping, stopped, shutting-down or"
                  + " terminated.")
          String state) {}
}
