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
 * A set of firewall rules, as an EC2 security group. VirtualServers and ContainerTasks name it;
 * Nimbus turns it into a NetworkPolicy that selects their pods. As in EC2, rules only allow:
 * traffic that no rule allows is dropped, once an instance belongs to at least one group.
 */
@JsonClassDescription(
    "Allow rules for traffic, as an EC2 security group. VirtualServers and ContainerTasks name it; Nimbus enforces it with NetworkPolicies on their pods.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("secgroup")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@AdditionalPrinterColumn(
    name = "ID",
    jsonPath = ".status.groupId",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Description",
    jsonPath = ".spec.description",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class SecurityGroup extends CustomResource<SecurityGroupSpec, SecurityGroupStatus>
    implements Namespaced {
  @Override
  protected SecurityGroupSpec initSpec() {
    return null;
  }

  @Override
  protected SecurityGroupStatus initStatus() {
    return null;
  }
}
