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
 * A size of virtual server, as an EC2 instance type: how many vCPUs and how much memory one
 * instance gets. Cluster-scoped, so every namespace shares one catalogue (t3.micro, m5.large...).
 */
@JsonClassDescription(
    "A size of virtual server, as an EC2 instance type: the vCPUs and memory of one instance. VirtualServers name it in spec.instanceType.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("itype")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@AdditionalPrinterColumn(
    name = "vCPUs",
    jsonPath = ".spec.vcpus",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Memory",
    jsonPath = ".spec.memory",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class InstanceType extends CustomResource<InstanceTypeSpec, SimpleStatus> {
  @Override
  protected InstanceTypeSpec initSpec() {
    return null;
  }

  @Override
  protected SimpleStatus initStatus() {
    return null;
  }
}
