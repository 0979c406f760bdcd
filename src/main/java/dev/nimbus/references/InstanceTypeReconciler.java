package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.SimpleStatus;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.Retries;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;

/** InstanceTypes: Ready, with their size in words. */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
@ControllerConfiguration(name = "instancetype")
public class InstanceTypeReconciler implements Reconciler<InstanceType> {
  @Override
  public UpdateControl<InstanceType> reconcile(InstanceType type, Context<InstanceType> context) {
    SimpleStatus status = ReferenceStatuses.of(type);
    return StatusPatch.ifChanged(type, status, InstanceType::new);
  }
}
