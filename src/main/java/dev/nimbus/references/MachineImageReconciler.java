package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.MachineImage;
import dev.nimbus.api.v1alpha1.SimpleStatus;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.Retries;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;

/** MachineImages: Ready, with what they boot in words. */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
@ControllerConfiguration(name = "machineimage")
public class MachineImageReconciler implements Reconciler<MachineImage> {
  @Override
  public UpdateControl<MachineImage> reconcile(MachineImage image, Context<MachineImage> context) {
    SimpleStatus status = ReferenceStatuses.of(image);
    return StatusPatch.ifChanged(image, status, MachineImage::new);
  }
}
