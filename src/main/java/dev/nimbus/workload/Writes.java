package dev.nimbus.workload;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

/** The writes that the workload controllers share. */
public final class Writes {
  private Writes() {}

  /**
   * Creates {@code desired}, or returns the stored object when an earlier reconcile created it and
   * the cache has not seen it yet: names are deterministic, so a create never duplicates.
   */
  public static <T extends HasMetadata> T createOrAdopt(KubernetesClient client, T desired) {
    try {
      return client.resource(desired).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      return client.resource(desired).get();
    }
  }

  /** Whether a create was refused because its namespace is being deleted. */
  public static boolean namespaceTerminating(KubernetesClientException e) {
    return e.getCode() == 403
        && e.getStatus() != null
        && e.getStatus().getDetails() != null
        && e.getStatus().getDetails().getCauses() != null
        && e.getStatus().getDetails().getCauses().stream()
            .anyMatch(cause -> "NamespaceTerminating".equals(cause.getReason()));
  }
}
