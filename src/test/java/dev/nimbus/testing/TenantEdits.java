package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.dsl.Resource;

/** What a tenant who may edit the objects Nimbus owns in their namespace does to them. */
public final class TenantEdits {
  private TenantEdits() {}

  /** {@code kubectl label <object> key=value --overwrite}. */
  public static <T extends HasMetadata> void label(Resource<T> object, String key, String value) {
    object.edit(
        edited -> {
          edited.getMetadata().getLabels().put(key, value);
          return edited;
        });
  }

  /** {@code kubectl label <object> key-}. */
  public static <T extends HasMetadata> void unlabel(Resource<T> object, String key) {
    object.edit(
        edited -> {
          edited.getMetadata().getLabels().remove(key);
          return edited;
        });
  }
}
