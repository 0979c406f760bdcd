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
 * A run of containers, as ECS RunTask with launchType FARGATE: a task definition and a count of
 * tasks. Each task runs once as an isolated pod with the task's cpu and memory; it is not
 * restarted. Like an ECS run, the spec cannot change once created.
 */
@JsonClassDescription(
    "A run of containers in the words of ECS RunTask with launchType FARGATE: a task definition and a count of tasks, each run once as an isolated pod sized by the task's cpu and memory. The spec cannot change once created.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("ctask")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@ValidationRule(value = ApiGroup.NAME_FITS_LABEL, message = ApiGroup.NAME_FITS_LABEL_MESSAGE)
@AdditionalPrinterColumn(
    name = "Count",
    jsonPath = ".spec.count",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Running",
    jsonPath = ".status.runningCount",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Stopped",
    jsonPath = ".status.stoppedCount",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "CPU",
    jsonPath = ".spec.taskDefinition.cpu",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Memory",
    jsonPath = ".spec.taskDefinition.memory",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Cluster",
    jsonPath = ".status.cluster",
    type = AdditionalPrinterColumn.Type.STRING,
    priority = 1)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class ContainerTask extends CustomResource<ContainerTaskSpec, ContainerTaskStatus>
    implements Namespaced {
  @Override
  protected ContainerTaskSpec initSpec() {
    return null;
  }

  @Override
  protected ContainerTaskStatus initStatus() {
    return null;
  }
}
