package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.SimpleStatus;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.conditions.StatusPatch;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;

/** Task definition revisions: Ready, with the family and revision RunTask names. */
@ControllerConfiguration(name = "taskdefinitionrevision")
public class TaskDefinitionRevisionReconciler implements Reconciler<TaskDefinitionRevision> {
  @Override
  public UpdateControl<TaskDefinitionRevision> reconcile(
      TaskDefinitionRevision revision, Context<TaskDefinitionRevision> context) {
    SimpleStatus status = ReferenceStatuses.of(revision);
    return StatusPatch.ifChanged(revision, status, TaskDefinitionRevision::new);
  }
}
