package dev.nimbus.conditions;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The one way the reconcilers write a status: only when it changed, carrying nothing but the
 * status, and only onto the version of the object it was computed from.
 *
 * <p>The resourceVersion makes the write a compare-and-swap. Without it, a spec change stored while
 * the controller computed the status would be overwritten by a status of the generation before; and
 * the operator framework, which takes the object its write returns as the newest it has seen, would
 * drop the spec change's own event as older than that write, so the new generation would never be
 * reconciled. With it, the write is refused (409), and the change is reconciled at once.
 */
public final class StatusPatch {
  private StatusPatch() {}

  /** Writes {@code status} onto {@code observed} unless it is the status it already has. */
  public static <S, R extends CustomResource<?, S>> UpdateControl<R> ifChanged(
      R observed, S status, Supplier<R> empty) {
    return Objects.equals(status, observed.getStatus())
        ? UpdateControl.noUpdate()
        : UpdateControl.patchStatus(of(observed, status, empty));
  }

  /**
   * A patch of {@code observed} that holds {@code status}, its name and the resourceVersion it was
   * read at; {@code empty} makes an object of its kind.
   */
  public static <S, R extends CustomResource<?, S>> R of(R observed, S status, Supplier<R> empty) {
    R patch = empty.get();
    patch.setMetadata(
        new ObjectMetaBuilder()
            .withName(observed.getMetadata().getName())
            .withNamespace(observed.getMetadata().getNamespace())
            .withResourceVersion(observed.getMetadata().getResourceVersion())
            .build());
    patch.setStatus(status);
    return patch;
  }
}
