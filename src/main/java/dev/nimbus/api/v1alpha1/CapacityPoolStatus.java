package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** The pool's capacity as last computed from its nodes and the workloads admitted into it. */
@JsonClassDescription(
    "The pool's capacity, as last computed from its nodes and the workloads admitted into it. Quantities are in Kubernetes units (CPU in cores or millicores, memory in bytes with binary suffixes).")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CapacityPoolStatus(
    @JsonPropertyDescription(StatusDocs.OBSERVED_GENERATION) Long observedGeneration,
    @JsonPropertyDescription(StatusDocs.CONDITIONS) List<Condition> conditions,
    @JsonPropertyDescription("How many nodes the selector currently selects.") Integer nodeCount,
    @JsonPropertyDescription("CPU of the whole pool.") ResourceCapacity cpu,
    @JsonPropertyDescription("Memory of the whole pool.") ResourceCapacity memory,
    @JsonPropertyDescription("Ephemeral storage of the whole pool.")
        ResourceCapacity ephemeralStorage,
    @JsonPropertyDescription(
            "The largest instance that still fits on one node: the free room of the node with"
                + " the most free CPU, then memory. Total free room spread over many nodes can"
                + " be larger, but no single instance larger than this is admitted.")
        LargestFit largestFit,
    @JsonPropertyDescription(
            "The same figures per node, sorted by node name, for the first 100 nodes by name"
                + " (nodeCount counts them all): a status written as the ledger changes stays"
                + " small in a pool of thousands of nodes.")
        List<NodeCapacity> nodes) {

  /** Capacity figures of one resource. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ResourceCapacity(
      @JsonPropertyDescription("P: allocatable minus reserved, summed over the nodes.")
          String physical,
      @JsonPropertyDescription("V: P × R, summed over the nodes; what the pool may promise.")
          String virtual,
      @JsonPropertyDescription("What admitted workloads hold, in virtual units.") String allocated,
      @JsonPropertyDescription("virtual - allocated.") String free) {}

  /** Capacity figures of one node. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record NodeCapacity(
      @JsonPropertyDescription("The node's name.") String name,
      @JsonPropertyDescription("CPU on this node, with the ratio in force here.") NodeResource cpu,
      @JsonPropertyDescription("Memory on this node.") NodeResource memory,
      @JsonPropertyDescription("Ephemeral storage on this node.") NodeResource ephemeralStorage) {}

  /** Capacity figures of one resource on one node. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record NodeResource(
      @JsonPropertyDescription("P_i: the node's allocatable minus reserved.") String physical,
      @JsonPropertyDescription("R_i: the pool's ratio, or the node's override annotation.")
          Double ratio,
      @JsonPropertyDescription("P_i × R_i.") String virtual,
      @JsonPropertyDescription("What workloads placed on this node hold.") String allocated,
      @JsonPropertyDescription("virtual - allocated.") String free) {}

  /** The room of the node that can host the largest single instance. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record LargestFit(
      @JsonPropertyDescription("The node with that room.") String node,
      @JsonPropertyDescription("Free CPU there, in virtual units.") String cpu,
      @JsonPropertyDescription("Free memory there.") String memory,
      @JsonPropertyDescription("Free ephemeral storage there.") String ephemeralStorage) {}
}
