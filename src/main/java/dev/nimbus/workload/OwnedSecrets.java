package dev.nimbus.workload;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.util.List;
import java.util.Map;

/**
 * Writes the Secrets Nimbus creates for a workload, and only those: a Secret of the same name that
 * is not controlled by the workload is never overwritten, adopted or deleted. The operator may
 * write Secrets in workload namespaces but never reads them, so ownership is checked by the API
 * server itself: the update is a JSON patch whose first operation tests the owner's UID, and fails
 * without writing anything when the Secret belongs to someone else.
 */
public final class OwnedSecrets {
  private OwnedSecrets() {}

  /**
   * Creates {@code desired} (which carries its controller reference to {@code owner}), or replaces
   * the data and labels of the one the owner already controls. False when a Secret of that name
   * exists and is not the owner's: then nothing was written.
   */
  public static boolean write(KubernetesClient client, Secret desired, HasMetadata owner) {
    try {
      client.resource(desired).create();
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
    }
    List<Map<String, Object>> patch =
        List.of(
            Map.of(
                "op",
                "test",
                "path",
                "/metadata/ownerReferences/0/uid",
                "value",
                owner.getMetadata().getUid()),
            Map.of(
                "op",
                "add",
                "path",
                "/metadata/labels",
                "value",
                desired.getMetadata().getLabels()),
            Map.of("op", "add", "path", "/data", "value", desired.getData()));
    try {
      client
          .secrets()
          .inNamespace(desired.getMetadata().getNamespace())
          .withName(desired.getMetadata().getName())
          .patch(
              PatchContext.of(PatchType.JSON), client.getKubernetesSerialization().asJson(patch));
      return true;
    } catch (KubernetesClientException e) {
      // 422: the test failed (another owner, or none); 500 is how some versions report it.
      if (e.getCode() == 422 || e.getCode() == 500) {
        return false;
      }
      throw e;
    }
  }
}
