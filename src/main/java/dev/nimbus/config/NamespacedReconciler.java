package dev.nimbus.config;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import io.quarkiverse.operatorsdk.runtime.api.ConfigurableReconciler;

/**
 * The controller of a namespaced kind: it watches, and its event sources that follow it, only the
 * namespaces this install serves. Applied when the controller is registered, before any watch.
 */
public interface NamespacedReconciler<P extends HasMetadata> extends ConfigurableReconciler<P> {
  /** Where this install serves workloads. */
  WatchedNamespaces watchedNamespaces();

  @Override
  default void updateConfigurationFrom(ControllerConfigurationOverrider<P> controller) {
    watchedNamespaces().restrict(controller);
  }
}
