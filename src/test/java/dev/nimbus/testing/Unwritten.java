package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;

/** Objects as they stand before their controller has written them. */
public final class Unwritten {
  private Unwritten() {}

  /**
   * Removes {@code object}'s status, as if its controller had never written one: as when the
   * operator stopped between a create and the first status write.
   */
  public static <T extends HasMetadata> void status(Resource<T> object) {
    object.subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE), "{\"status\":null}");
  }
}
