package dev.nimbus.workload;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Lists of every object of a kind in the cluster, read from the API server a page at a time: no
 * response holds the whole cluster's objects at once, and only what the caller keeps of each object
 * outlives its page.
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

  /** {@code keep} of every {@code type} object in all namespaces, as stored now. */
  public static <T extends HasMetadata, R> List<R> all(
      KubernetesClient client, Class<T> type, Function<T, R> keep) {
    List<R> kept = new ArrayList<>();
    String next = null;
    do {
      var page =
          client
              .resources(type)
              .inAnyNamespace()
              .list(new ListOptionsBuilder().withLimit(PAGE).withContinue(next).build());
      page.getItems().forEach(item -> kept.add(keep.apply(item)));
      next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
    } while (next != null && !next.isEmpty());
    return kept;
  }
}
