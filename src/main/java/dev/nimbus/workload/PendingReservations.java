package dev.nimbus.workload;

import dev.nimbus.inventory.SlimItemStore;
import dev.nimbus.ledger.LedgerShards;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Ledger shards as an event source: a workload whose reservation in a shard stands for a newer
 * generation than the one stored is reconciled. That is the mark of an update admission reserved
 * for and that may never be stored (another webhook or a quota refused it after Nimbus admitted
 * it): no change of the workload itself follows, so without this only an unrelated event would
 * bring the reservation back to what is stored once the grace has passed.
 */
public final class PendingReservations {
  static final String SOURCE = "ledger-shards";

  private PendingReservations() {}

  public static <P extends HasMetadata> InformerEventSource<ConfigMap, P> source(
      Class<P> workload, EventSourceContext<P> context, String operatorNamespace) {
    String kind = HasMetadata.getKind(workload);
    var shards =
        InformerEventSourceConfiguration.from(ConfigMap.class, workload)
            .withName(SOURCE)
            .withNamespaces(Set.of(operatorNamespace))
            .withLabelSelector(Names.LEDGER_NODE_LABEL)
            // No workload asks for its shards: without this mapper JOSDK would index them by
            // decoding every shard written a second time (see LostNodes).
            .withPrimaryToSecondaryMapper(primary -> Set.of())
            // Its handlers read a shard as it comes; nothing reads the cache but for its names.
            .withItemStore(SlimItemStore.namesOnly())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .withSecondaryToPrimaryMapper(
                shard ->
                    pendingIn(shard, kind, id -> context.getPrimaryCache().get(id).orElse(null)))
            .build();
    return new InformerEventSource<>(shards, context);
  }

  /** The workloads of {@code kind} that {@code shard} holds for a generation not stored yet. */
  static Set<ResourceID> pendingIn(
      ConfigMap shard, String kind, java.util.function.Function<ResourceID, HasMetadata> stored) {
    Map<String, String> data = shard.getData();
    if (data == null || data.get(Names.LEDGER_SHARD_KEY) == null) {
      return Set.of();
    }
    LedgerShards.Shard decoded;
    try {
      decoded =
          LedgerShards.decode(
              data.get(Names.LEDGER_SHARD_NODE_KEY), data.get(Names.LEDGER_SHARD_KEY));
    } catch (IllegalStateException e) {
      return Set.of(); // the pool's controller reports a shard it cannot read
    }
    return decoded.reservations().entrySet().stream()
        .filter(e -> kind.equals(e.getValue().kind()) && e.getValue().generation() != null)
        .filter(
            e -> {
              var part = e.getValue();
              HasMetadata workload = stored.apply(new ResourceID(part.name(), part.namespace()));
              return workload != null
                  && e.getKey().equals(workload.getMetadata().getUid())
                  && part.generation()
                      > Objects.requireNonNullElse(workload.getMetadata().getGeneration(), 1L);
            })
        .map(e -> new ResourceID(e.getValue().name(), e.getValue().namespace()))
        .collect(Collectors.toSet());
  }
}
