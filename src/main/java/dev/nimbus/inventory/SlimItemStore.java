package dev.nimbus.inventory;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;

/**
 * An informer's store that keeps only what Nimbus reads of each object: every object's
 * managedFields (often the larger part of a small object) and a node's list of the images it holds
 * are dropped as they arrive, so a replica's caches grow with what it uses, not with who wrote it.
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
    return super.put(key, object);
  }
}
