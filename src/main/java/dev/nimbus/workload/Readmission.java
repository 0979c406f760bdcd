package dev.nimbus.workload;

import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.ledger.ReservedAt;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Reserves again for a stored workload that should run, runs nothing, and holds no reservation: one
 * whose create's reservation was released as an orphan before the API server stored the object, or
 * was lost with a ledger shard before the workload's status showed it. Decided as admission
 * decides, on the pool's model without the nodes whose shard is lost, in one compare-and-swap; a
 * workload without room waits, and is looked at again.
 */
@ApplicationScoped
public class Readmission {
  /** How often a workload that found no room looks again. */
  public static final Duration RECHECK = Duration.ofSeconds(30);

  private final LedgerStore ledgers;
  private final Inventory inventory;
  private final EventRecorder events;

  public Readmission(LedgerStore ledgers, Inventory inventory, EventRecorder events) {
    this.ledgers = ledgers;
    this.inventory = inventory;
    this.events = events;
  }

  /**
   * The reservation of {@code workload} in {@code pool}: the one stored for it, or one made now
   * asking {@code demand} if the pool has room. {@code conditions} are the workload's status
   * conditions: one already found waiting at its generation (its {@code Admitted} condition {@code
   * NotAdmitted}) reads nothing from the API server while the pool, as this replica knows it, has
   * no room for it, so workloads that wait for room cost the API server nothing while they wait.
   */
  public Optional<LedgerEntry> reserve(
      HasMetadata workload,
      List<Condition> conditions,
      CapacityPool pool,
      Request demand,
      int desired) {
    String poolName = pool.getMetadata().getName();
    String uid = workload.getMetadata().getUid();
    if (waiting(workload, conditions) && room(pool, ledgers.recent(poolName), demand).isEmpty()) {
      return Optional.empty(); // nothing would be written, so nothing needs to be read
    }
    // The webhook of another replica may have reserved for it just before the API server stored
    // it, and this replica's watch not shown that yet: reserving again would hold its room twice.
    LedgerEntry stored = ledgers.entry(poolName, uid);
    if (stored != null) {
      return Optional.of(stored);
    }
    LedgerEntry entry =
        ledgers.change(
            poolName,
            ledger -> {
              LedgerEntry held = ledger.entry(uid);
              if (held != null) {
                return LedgerStore.Change.none(held);
              }
              Optional<Reservation> room = room(pool, ledger, demand);
              if (room.isEmpty()) {
                return LedgerStore.Change.<LedgerEntry>none(null);
              }
              LedgerEntry made =
                  LedgerEntry.of(
                      workload.getKind(),
                      workload.getMetadata().getNamespace(),
                      workload.getMetadata().getName(),
                      desired,
                      room.get(),
                      ReservedAt.onThisReplica(Instant.now()),
                      workload.getMetadata().getGeneration());
              return LedgerStore.Change.write(ledger.with(made), made);
            });
    if (entry != null) {
      events.normal(
          workload,
          Reason.Readmitted,
          "pool \""
              + pool.getMetadata().getName()
              + "\" held no reservation for this "
              + workload.getKind()
              + " (it was released before the object was stored, or lost with a ledger shard):"
              + " admitted again with "
              + entry.count()
              + " instance(s)");
    }
    return Optional.ofNullable(entry);
  }

  /**
   * Whether a reconcile of {@code workload}'s current generation found it without a reservation
   * already: it then looked at the ledger as stored, and since then only a readmission, which is
   * this controller's own, writes one for that generation.
   */
  private static boolean waiting(HasMetadata workload, List<Condition> conditions) {
    return conditions != null
        && conditions.stream()
            .anyMatch(
                c ->
                    c.getType().equals("Admitted")
                        && "NotAdmitted".equals(c.getReason())
                        && Objects.equals(
                            c.getObservedGeneration(), workload.getMetadata().getGeneration()));
  }

  /**
   * The placement of at least one instance of {@code demand} that {@code ledger} leaves room for.
   */
  private Optional<Reservation> room(CapacityPool pool, Ledger ledger, Request demand) {
    return PoolModels.deciding(pool, inventory.nodes(), ledger).admit(demand)
                instanceof Verdict.Admitted admitted
            && admitted.reservation().count() > 0
        ? Optional.of(admitted.reservation())
        : Optional.empty();
  }
}
