package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A request for virtual servers, as EC2 RunInstances: an image, an instance type and a count
 * between minCount and maxCount. Nimbus admits as many instances as the pool has room for, up to
 * maxCount, and runs each one as a KubeVirt VirtualMachine on a node of the pool that exposes
 * /dev/kvm.
 */
@JsonClassDescription(
    "Virtual servers in the words of EC2 RunInstances: an image, an instance type and between minCount and maxCount instances, each run as a KubeVirt VirtualMachine on a node of a CapacityPool that exposes /dev/kvm. Admission grants as many instances as the pool has room for, up to maxCount.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("vsrv")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@ValidationRule(value = ApiGroup.NAME_FITS_LABEL, message = ApiGroup.NAME_FITS_LABEL_MESSAGE)
@AdditionalPrinterColumn(
    name = "Type",
    jsonPath = ".spec.instanceType",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Desired",
    jsonPath = ".status.desiredCount",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Admitted",
    jsonPath = ".status.admittedCount",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Running",
    jsonPath = ".status.readyCount",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Image",
    jsonPath = ".spec.image",
    type = AdditionalPrinterColumn.Type.STRING,
    priority = 1)
@AdditionalPrinterColumn(
    name = "Pool",
    jsonPath = ".status.pool",
    type = AdditionalPrinterColumn.Type.STRING,
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class VirtualServer extends CustomResource<VirtualServerSpec, VirtualServerStatus>
    implements Namespaced {
  @Override
  protected VirtualServerSpec initSpec() {
    return null;
  }

  @Override
  protected VirtualServerStatus initStatus() {
    return null;
  }
}
