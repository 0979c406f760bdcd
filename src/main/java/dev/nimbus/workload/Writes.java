package dev.nimbus.workload;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.Objects;
import java.util.Optional;

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

  /**
   * Brings a workload's NetworkPolicy to {@code desired}: created, updated where its rules or
   * groups changed, or deleted when {@code desired} is empty (the workload names no group).
   */
  public static void syncPolicy(
      KubernetesClient client, Optional<NetworkPolicy> current, Optional<NetworkPolicy> desired) {
    if (desired.isEmpty()) {
      current.ifPresent(policy -> client.resource(policy).delete());
      return;
    }
    if (current.isEmpty()) {
      createOrAdopt(client, desired.get());
      return;
    }
    NetworkPolicy stored = current.get();
    if (Objects.equals(stored.getSpec(), desired.get().getSpec())
        && Objects.equals(
            stored.getMetadata().getAnnotations(), desired.get().getMetadata().getAnnotations())) {
      return;
    }
    KubernetesSerialization json = client.getKubernetesSerialization();
    NetworkPolicy next = json.clone(stored);
    next.setSpec(desired.get().getSpec());
    next.getMetadata().setAnnotations(desired.get().getMetadata().getAnnotations());
    client.resource(next).update();
  }
}
