package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.KeyPairStatus;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.NamespacedReconciler;
import dev.nimbus.config.Retries;
import dev.nimbus.config.WatchedNamespaces;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;

/** KeyPairs: their fingerprint, and whether the key can be read. */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
@ControllerConfiguration(name = "keypair")
public class KeyPairReconciler implements NamespacedReconciler<KeyPair> {
  private final WatchedNamespaces watched;

  public KeyPairReconciler(WatchedNamespaces watched) {
    this.watched = watched;
  }

  @Override
  public WatchedNamespaces watchedNamespaces() {
    return watched;
  }

  @Override
  public UpdateControl<KeyPair> reconcile(KeyPair keyPair, Context<KeyPair> context) {
    KeyPairStatus status = ReferenceStatuses.of(keyPair);
    return StatusPatch.ifChanged(keyPair, status, KeyPair::new);
  }
}
