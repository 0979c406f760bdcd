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
 * One revision of an ECS task definition, as the AWS API's RegisterTaskDefinition keeps it: the
 * family and revision that ECS clients name ({@code hello:3}), and the task definition itself,
 * which RunTask copies into the ContainerTask it creates. Immutable, as an ECS revision is.
 */
@JsonClassDescription(
    "One revision of an ECS task definition, as the AWS API's RegisterTaskDefinition keeps it: RunTask names it as family:revision and copies it into the ContainerTask it creates. Immutable.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("taskdef")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@AdditionalPrinterColumn(
    name = "Family",
    jsonPath = ".spec.taskDefinition.family",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Revision",
    jsonPath = ".spec.revision",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class TaskDefinitionRevision extends CustomResource<TaskDefinitionRevisionSpec, SimpleStatus>
    implements Namespaced {
  @Override
  protected TaskDefinitionRevisionSpec initSpec() {
    return null;
  }

  @Override
  protected SimpleStatus initStatus() {
    return null;
  }
}
