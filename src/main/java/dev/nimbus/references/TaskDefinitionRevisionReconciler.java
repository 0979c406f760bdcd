package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.SimpleStatus;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.NamespacedReconciler;
import dev.nimbus.config.Retries;
import dev.nimbus.config.WatchedNamespaces;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;

/** Task definition revisions: Ready, with the family and revision RunTask names. */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
@ControllerConfiguration(name = "taskdefinitionrevision")
public class TaskDefinitionRevisionReconciler
    implements NamespacedReconciler<TaskDefinitionRevision> {
  private final WatchedNamespaces watched;

  public TaskDefinitionRevisionReconciler(WatchedNamespaces watched) {
    this.watched = watched;
  }

  @Override
  public WatchedNamespaces watchedNamespaces() {
    return watched;
  }

  @Override
  public UpdateControl<TaskDefinitionRevision> reconcile(
      TaskDefinitionRevision revision, Context<TaskDefinitionRevision> context) {
    SimpleStatus status = ReferenceStatuses.of(revision);
    return StatusPatch.ifChanged(revision, status, TaskDefinitionRevision::new);
  }
}
