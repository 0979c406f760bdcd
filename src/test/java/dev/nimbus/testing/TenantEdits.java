package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Collections;
import java.util.Map;

/**
 * What a tenant who may edit the objects Nimbus owns in their namespace does to them, as kubectl
 * does it: a merge patch without a resourceVersion, which a concurrent status write by a controller
 * (virt-controller's, say) cannot make fail.
 */
public final class TenantEdits {
  private TenantEdits() {}

  /** {@code kubectl label <object> key=value --overwrite}. */
  public static <T extends HasMetadata> void label(Resource<T> object, String key, String value) {
    patchLabel(object, key, value);
  }

  /** {@code kubectl label <object> key-}. */
  public static <T extends HasMetadata> void unlabel(Resource<T> object, String key) {
    patchLabel(object, key, null);
  }

  /** {@code kubectl patch <object> --type merge -p <patch>}. */
  public static <T extends HasMetadata> void patch(Resource<T> object, String mergePatch) {
    object.patch(PatchContext.of(PatchType.JSON_MERGE), mergePatch);
  }

  private static <T extends HasMetadata> void patchLabel(
      Resource<T> object, String key, String value) {
    Map<String, Object> patch =
        Map.of("metadata", Map.of("labels", Collections.singletonMap(key, value)));
    patch(object, Serialization.asJson(patch));
  }
}
