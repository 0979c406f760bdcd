package dev.nimbus.workload;

import dev.nimbus.inventory.SlimItemStore;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.util.Set;
import java.util.function.BiPredicate;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * How both workload controllers learn that a node is gone: an event source of node deletions, which
 * reconciles the workloads {@code affected} names, and the same source's cache to ask whether a
 * node exists; it has seen the deletion before the reconcile it triggers runs.
 */
public final class LostNodes {
  static final String SOURCE = "nodes";

  private LostNodes() {}

  /**
   * The event source of node deletions, for the workloads that {@code affected} selects given the
   * node that went.
   */
  public static <P extends HasMetadata> InformerEventSource<Node, P> source(
      Class<P> workload, EventSourceContext<P> context, BiPredicate<Node, P> affected) {
    var deletions =
        InformerEventSourceConfiguration.from(Node.class, workload)
            .withName(SOURCE)
            // Nodes are cluster-scoped: one watch, whichever namespaces the controller serves.
            .withWatchAllNamespaces()
            // Only a deletion matters; heartbeats of a thousand nodes would cost a scan each.
            .withOnAddFilter(node -> false)
            .withOnUpdateFilter((node, old) -> false)
            // The cache is read by node name only (exists). Without a primary-to-secondary mapper
            // JOSDK keeps an index by calling the mapper below, a scan of every workload, on every
            // add and update before the filters drop it: a thousand nodes' heartbeats scanned ten
            // thousand servers each, on every replica.
            .withPrimaryToSecondaryMapper(primary -> Set.of())
            // Asked whether a node exists, by name: a thousand nodes' status, kept by every
            // workload controller of every replica, filled the heap at 4,000 servers.
            .withItemStore(SlimItemStore.namesOnly())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .withSecondaryToPrimaryMapper(
                node ->
                    context
                        .getPrimaryCache()
                        .list(primary -> affected.test(node, primary))
                        .map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
            .build();
    return new InformerEventSource<>(deletions, context);
  }

  /** Whether a node exists, as the source of {@link #source} has it. */
  @SuppressWarnings("unchecked")
  public static <P extends HasMetadata> Predicate<String> exists(Context<P> context) {
    var nodes =
        (InformerEventSource<Node, P>)
            context.eventSourceRetriever().getEventSourceFor(Node.class, SOURCE);
    return name -> nodes.get(new ResourceID(name)).isPresent();
  }
}
