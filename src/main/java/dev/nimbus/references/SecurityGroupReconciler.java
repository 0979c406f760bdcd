package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupStatus;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.NamespacedReconciler;
import dev.nimbus.config.Retries;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.workload.PagedLists;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;

/** SecurityGroups: Ready, with their rules counted. */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
@ControllerConfiguration(
    name = "securitygroup",
    informer = @Informer(informerListLimit = PagedLists.INFORMER_PAGE))
public class SecurityGroupReconciler implements NamespacedReconciler<SecurityGroup> {
  private final WatchedNamespaces watched;

  public SecurityGroupReconciler(WatchedNamespaces watched) {
    this.watched = watched;
  }

  @Override
  public WatchedNamespaces watchedNamespaces() {
    return watched;
  }

  @Override
  public UpdateControl<SecurityGroup> reconcile(
      SecurityGroup group, Context<SecurityGroup> context) {
    SecurityGroupStatus status = ReferenceStatuses.of(group);
    return StatusPatch.ifChanged(group, status, SecurityGroup::new);
  }
}
