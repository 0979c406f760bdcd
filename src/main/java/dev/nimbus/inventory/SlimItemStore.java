package dev.nimbus.inventory;

import dev.nimbus.workload.Firewall;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;

/**
 * An informer's store that keeps only what Nimbus reads of each object, so that a replica's caches
 * grow with what it uses, not with who wrote it or how large a tenant made it. Dropped as objects
 * arrive: every object's managedFields (often the larger part of a small object); a node's list of
 * the images it holds; a pod's containers' command, args, environment and ports (a task's pods
 * carry up to 64 KiB of them, and Nimbus reads only a pod's node and status); and a NetworkPolicy's
 * spec (the rules of all the groups a workload names, up to 120 peers each), kept as its digest in
 * the annotation where Nimbus writes the digest of the spec it wants, so that a policy is rewritten
 * when its spec differs from the wanted one, whoever changed it.
 */
public final class SlimItemStore<T extends HasMetadata> extends BasicItemStore<T> {
  public SlimItemStore() {
    super(Cache::metaNamespaceKeyFunc);
  }

  @Override
  public T put(String key, T object) {
    object.getMetadata().setManagedFields(null);
    if (object instanceof Node node && node.getStatus() != null) {
      node.getStatus().setImages(null);
    }
    if (object instanceof Pod pod && pod.getSpec() != null) {
      pod.getSpec().getContainers().forEach(SlimItemStore::dropWhatNimbusNeverReads);
      pod.getSpec().getInitContainers().forEach(SlimItemStore::dropWhatNimbusNeverReads);
    }
    if (object instanceof NetworkPolicy policy && policy.getSpec() != null) {
      policy.getMetadata().setAnnotations(Firewall.observedAnnotations(policy));
      policy.setSpec(null);
    }
    return super.put(key, object);
  }

  private static void dropWhatNimbusNeverReads(Container container) {
    container.setCommand(null);
    container.setArgs(null);
    container.setEnv(null);
    container.setPorts(null);
  }
}
