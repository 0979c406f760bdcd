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
 * A registered boot image, as an EC2 AMI: its name is the image id that EC2 clients pass as {@code
 * ImageId} ({@code ami-0c55b159cbfafe1f0}), and it names the containerDisk that the AWS API's
 * RunInstances writes into the VirtualServer it creates. Cluster-scoped, a catalogue every
 * namespace shares, as InstanceTypes are.
 */
@JsonClassDescription(
    "A registered boot image, as an EC2 AMI: its name is the image id EC2 clients pass as ImageId, such as ami-0c55b159cbfafe1f0, and spec.containerDisk is the image a VirtualServer created by the AWS API boots.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("ami")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@ValidationRule(
    value = "self.metadata.name.matches('^ami-([0-9a-f]{8}|[0-9a-f]{17})$')",
    message =
        "a MachineImage's name is its EC2 image id: ami- and 8 or 17 lower-case hex digits, such as"
            + " ami-0c55b159cbfafe1f0")
@AdditionalPrinterColumn(
    name = "ContainerDisk",
    jsonPath = ".spec.containerDisk",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class MachineImage extends CustomResource<MachineImageSpec, SimpleStatus> {
  @Override
  protected MachineImageSpec initSpec() {
    return null;
  }

  @Override
  protected SimpleStatus initStatus() {
    return null;
  }
}
