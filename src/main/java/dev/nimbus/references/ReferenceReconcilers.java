package dev.nimbus.references;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * What the reconcilers of the referenced kinds share: the status computed by {@link
 * ReferenceStatuses}, patched only when it changed, carrying nothing but status.
 */
public final class ReferenceReconcilers {
  private ReferenceReconcilers() {}

  static <S, R extends CustomResource<?, S>> UpdateControl<R> patchIfChanged(
      R resource, S status, Supplier<R> empty) {
    if (Objects.equals(status, resource.getStatus())) {
      return UpdateControl.noUpdate();
    }
    R patch = empty.get();
    patch.setMetadata(
        new ObjectMetaBuilder()
            .withName(resource.getMetadata().getName())
            .withNamespace(resource.getMetadata().getNamespace())
            .build());
    patch.setStatus(status);
    return UpdateControl.patchStatus(patch);
  }
}
