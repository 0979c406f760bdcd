package dev.nimbus.inventory;

import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.workload.PagedLists;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Informable;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * A watched, cached namespaced kind where this install serves it: one informer over all namespaces,
 * or one per listed namespace (a namespaced install may not list a kind cluster-wide). Lists in
 * pages of {@link PagedLists#INFORMER_PAGE}.
 */
public final class WatchedInformer<T extends HasMetadata> {
  // Keyed by namespace; the one key "" when every namespace is watched by one informer.
  private final Map<String, SharedIndexInformer<T>> informers;

  public WatchedInformer(
      KubernetesClient client,
      Class<T> type,
      WatchedNamespaces watched,
      Supplier<ItemStore<T>> store) {
    informers =
        watched.scopes().stream()
            .collect(
                Collectors.toUnmodifiableMap(
                    scope -> scope.orElse(""),
                    scope ->
                        in(client, type, scope)
                            .withLimit(PagedLists.INFORMER_PAGE)
                            .runnableInformer(0)
                            .itemStore(store.get())));
  }

  private static <T extends HasMetadata> Informable<T> in(
      KubernetesClient client, Class<T> type, Optional<String> namespace) {
    if (namespace.isPresent()) {
      return client.resources(type).inNamespace(namespace.get());
    }
    return client.resources(type).inAnyNamespace();
  }

  public void addEventHandler(ResourceEventHandler<? super T> handler) {
    informers.values().forEach(informer -> informer.addEventHandler(handler));
  }

  /** Starts every informer; completes once each has listed once. */
  public CompletableFuture<Void> start() {
    return CompletableFuture.allOf(
        informers.values().stream()
            .map(informer -> informer.start().toCompletableFuture())
            .toArray(CompletableFuture[]::new));
  }

  public void stop() {
    informers.values().forEach(SharedIndexInformer::stop);
  }

  /** The cached object, or null; always null in a namespace not watched. */
  public T get(String namespace, String name) {
    SharedIndexInformer<T> informer = informerOf(namespace);
    return informer == null
        ? null
        : informer.getStore().getByKey(Cache.namespaceKeyFunc(namespace, name));
  }

  /** The cached objects of {@code namespace}; none in a namespace not watched. */
  public List<T> list(String namespace) {
    SharedIndexInformer<T> informer = informerOf(namespace);
    return informer == null
        ? List.of()
        : informer.getIndexer().byIndex(Cache.NAMESPACE_INDEX, namespace);
  }

  private SharedIndexInformer<T> informerOf(String namespace) {
    SharedIndexInformer<T> all = informers.get("");
    return all != null ? all : informers.get(namespace);
  }
}
