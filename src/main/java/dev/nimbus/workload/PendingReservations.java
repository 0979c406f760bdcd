package dev.nimbus.workload;

import dev.nimbus.ledger.LedgerShards;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.IndexedResourceCache;
import io.javaoperatorsdk.operator.processing.event.Event;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.AbstractEventSource;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Ledger shards as an event source: a workload whose reservation in a shard stands for a newer
 * generation than the one stored is reconciled. That is the mark of an update admission reserved
 * for and that may never be stored (another webhook or a quota refused it after Nimbus admitted
 * it): no change of the workload itself follows, so without this only an unrelated event would
 * bring the reservation back to what is stored once the grace has passed.
 *
 * <p>The shards come from the ledger's own watch ({@link LedgerStore#onShardDelivered}), not from a
 * watch of this source's: a second watch could deliver a shard before the ledger's did, and the
 * reconcile it woke would read the ledger without the newer reservation, find nothing to wait for
 * and ask for no second look.
 */
public final class PendingReservations<P extends HasMetadata>
    extends AbstractEventSource<ConfigMap, P> {
  static final String SOURCE = "ledger-shards";

  private final String kind;
  private final LedgerStore ledgers;
  private final IndexedResourceCache<P> stored;
  private Runnable subscription;

  public PendingReservations(
      Class<P> workload, LedgerStore ledgers, EventSourceContext<P> context) {
    super(ConfigMap.class, SOURCE);
    this.kind = HasMetadata.getKind(workload);
    this.ledgers = ledgers;
    this.stored = context.getPrimaryCache();
  }

  @Override
  public synchronized void start() {
    if (subscription == null) {
      subscription = ledgers.onShardDelivered(this::delivered);
    }
    super.start();
  }

  @Override
  public synchronized void stop() {
    if (subscription != null) {
      subscription.run();
      subscription = null;
    }
    super.stop();
  }

  /** No workload asks for its shards: the ledger answers what it holds. */
  @Override
  public Set<ConfigMap> getSecondaryResources(P primary) {
    return Set.of();
  }

  private void delivered(ConfigMap shard) {
    if (!isRunning()) {
      return;
    }
    for (ResourceID id : pendingIn(shard, kind, i -> stored.get(i).orElse(null))) {
      getEventHandler().handleEvent(new Event(id));
    }
  }

  /** The workloads of {@code kind} that {@code shard} holds for a generation not stored yet. */
  static Set<ResourceID> pendingIn(
      ConfigMap shard, String kind, Function<ResourceID, HasMetadata> stored) {
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
