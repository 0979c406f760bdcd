package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A set of nodes whose capacity Nimbus promises to VirtualServers and ContainerTasks, with the
 * allocation (overcommit) ratio of each resource. Per resource the pool offers {@code V = Σ P_i ×
 * R_i} over its nodes, where {@code P_i} is node i's allocatable minus what the pool reserves and
 * {@code R_i} the ratio; the admission webhook never lets the allocated total exceed V, nor admits
 * an instance that fits on no single node. Cluster-scoped, as host aggregates are.
 */
@JsonClassDescription(
    "A set of nodes whose capacity Nimbus promises to VirtualServers and ContainerTasks. Per resource it offers V = sum over its nodes of P_i x R_i, where P_i is node i's allocatable minus what the pool reserves and R_i the allocation ratio; admission never lets the allocated total exceed V, nor admits an instance that fits on no single node.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("cpool")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@ValidationRule(value = ApiGroup.NAME_FITS_LABEL, message = ApiGroup.NAME_FITS_LABEL_MESSAGE)
@AdditionalPrinterColumn(
    name = "Nodes",
    jsonPath = ".status.nodeCount",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "CPU-Free",
    jsonPath = ".status.cpu.free",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "CPU-Virtual",
    jsonPath = ".status.cpu.virtual",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Memory-Free",
    jsonPath = ".status.memory.free",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class CapacityPool extends CustomResource<CapacityPoolSpec, CapacityPoolStatus> {
  /**
   * A node annotation that overrides the pool's ratio for one resource on that node, such as {@code
   * compute.nimbus.dev/allocation-ratio.cpu: "2"}.
   */
  public static final String RATIO_ANNOTATION_PREFIX = ApiGroup.GROUP + "/allocation-ratio.";

  @Override
  protected CapacityPoolSpec initSpec() {
    return null;
  }

  @Override
  protected CapacityPoolStatus initStatus() {
    return null;
  }
}
