package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.LabelSelector;
import java.util.List;

/** Which nodes form the pool, how far their capacity is stretched, and what the pool serves. */
@JsonClassDescription(
    "Which nodes form the pool, how far their capacity is stretched, and what the pool serves.")
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "!has(self.defaultFor) || self.defaultFor.all(k, k in self.serves)",
    message = "defaultFor may only name kinds that the pool serves (listed in serves)")
public record CapacityPoolSpec(
    @JsonPropertyDescription(
            "Selects the pool's nodes by label, as a Deployment selects pods. An empty selector"
                + " ({}) selects every node. Nodes may join and leave at any time; the pool's"
                + " capacity follows them.")
        @Required
        LabelSelector nodeSelector,
    @JsonPropertyDescription(
            "The allocation (overcommit) ratio R per resource: the pool promises P × R of each."
                + " 1 promises exactly what the nodes have; 4 for cpu promises four virtual CPUs"
                + " per physical one. A node's annotation"
                + " compute.nimbus.dev/allocation-ratio.<resource> overrides it for that node.")
        @Default("{}")
        PoolRatios ratios,
    @JsonPropertyDescription(
            "Capacity kept back on every node of the pool for the host itself, subtracted from"
                + " the node's allocatable before the ratio applies: P = allocatable - reserved.")
        @Default("{}")
        PoolReserved reserved,
    @JsonPropertyDescription(
            "The kinds this pool accepts: VirtualServer, ContainerTask, or both. A"
                + " VirtualServer is only placed on nodes that expose /dev/kvm.")
        @Required
        @Size(min = 1, max = 2)
        List<WorkloadKind> serves,
    @JsonPropertyDescription(
            "The kinds for which this pool is the default: a VirtualServer without spec.pool or a"
                + " ContainerTask without spec.cluster lands here. At most one pool should be the"
                + " default of a kind; the webhook refuses a request when two are.")
        @Size(max = 2)
        List<WorkloadKind> defaultFor,
    @JsonPropertyDescription(
            "The isolation given to ContainerTasks per platform version: the RuntimeClass (for"
                + " example a Kata Containers class that runs each task in its own lightweight"
                + " VM) that the task's pod runs with. The entry named LATEST is used for"
                + " platformVersion LATEST and for versions not listed. Without entries, tasks"
                + " run with the cluster's default runtime.")
        @Size(max = 16)
        List<PlatformVersion> platformVersions) {

  /** The kinds of workload a pool can serve. */
  public enum WorkloadKind {
    VirtualServer,
    ContainerTask
  }
}
