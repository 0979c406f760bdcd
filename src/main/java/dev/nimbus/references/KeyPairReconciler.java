package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.KeyPairStatus;
import dev.nimbus.conditions.StatusPatch;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;

/** KeyPairs: their fingerprint, and whether the key can be read. */
@ControllerConfiguration(name = "keypair")
public class KeyPairReconciler implements Reconciler<KeyPair> {
  @Override
  public UpdateControl<KeyPair> reconcile(KeyPair keyPair, Context<KeyPair> context) {
    KeyPairStatus status = ReferenceStatuses.of(keyPair);
    return StatusPatch.ifChanged(keyPair, status, KeyPair::new);
  }
}
