package dev.nimbus.workload;

import dev.nimbus.config.WatchedNamespaces;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Lists of every object of a kind in the namespaces served, read from the API server a page at a
 * time: no response holds the whole cluster's objects at once, and only what the caller keeps of
 * each object outlives its page.
 */
public final class PagedLists {
  /** Objects per page: a page of maximal workloads stays within a few MiB. */
  static final long PAGE = 250;

  /**
   * Objects per page of an informer's first list (and of every relist): a replica decodes a whole
   * page before its cache drops what Nimbus never reads, and a page of NetworkPolicies of a task's
   * five or a server's sixteen maximal groups, or of tasks with 64 KiB of text, must not need more
   * than a few tens of MiB.
   */
  public static final long INFORMER_PAGE = 25;

  private PagedLists() {}

  /** {@code keep} of every {@code type} object in the namespaces served, as stored now. */
  public static <T extends HasMetadata, R> List<R> all(
      KubernetesClient client, WatchedNamespaces watched, Class<T> type, Function<T, R> keep) {
    List<R> kept = new ArrayList<>();
    for (Optional<String> scope : watched.scopes()) {
      String next = null;
      do {
        var options = new ListOptionsBuilder().withLimit(PAGE).withContinue(next).build();
        var objects = client.resources(type);
        var page =
            scope.isPresent()
                ? objects.inNamespace(scope.get()).list(options)
                : objects.inAnyNamespace().list(options);
        page.getItems().forEach(item -> kept.add(keep.apply(item)));
        next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
      } while (next != null && !next.isEmpty());
    }
    return kept;
  }
}
