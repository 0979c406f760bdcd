package dev.nimbus.workload;

import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.capacitypool.StoredAdmissions;
import dev.nimbus.conditions.Conditions;
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
import java.util.TreeSet;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * Reserves again for a stored workload that should run and holds no reservation: one whose create's
 * reservation was released as an orphan before the API server stored the object, or was lost with a
 * ledger shard before the workload's status showed it. One that runs nothing is decided as
 * admission decides, on the pool's model without the nodes whose shard is lost, in one
 * compare-and-swap, and without room waits and is looked at again ({@link #reserve}); one whose
 * instances or tasks run gets its reservation back where they run ({@link #restore}).
 */
@ApplicationScoped
public class Readmission {
  private static final Logger LOG = Logger.getLogger(Readmission.class);

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
    if (waiting(workload, conditions) && room(pool, ledgers.recent(poolName), demand).isEmpty()) {
      return Optional.empty(); // nothing would be written, so nothing needs to be read
    }
    Made made =
        makeOnce(
            workload,
            poolName,
            ledger ->
                room(pool, ledger, demand)
                    .map(
                        room ->
                            LedgerEntry.of(
                                workload.getKind(),
                                workload.getMetadata().getNamespace(),
                                workload.getMetadata().getName(),
                                desired,
                                room,
                                ReservedAt.onThisReplica(Instant.now()),
                                workload.getMetadata().getGeneration()))
                    .orElse(null));
    if (made.now()) {
      events.normal(
          workload,
          Reason.Readmitted,
          "pool \""
              + poolName
              + "\" held no reservation for this "
              + workload.getKind()
              + " (it was released before the object was stored, or lost with a ledger shard):"
              + " admitted again with "
              + made.entry().count()
              + " instance(s)");
    }
    return Optional.ofNullable(made.entry());
  }

  /**
   * The reservation of {@code workload} in {@code pool}, whose instances of {@code demand} run on
   * {@code nodes} (in index order) while it holds none: the one stored for it, or one made now
   * where they run, room or not. Only a loss makes this: a shard deleted or garbled before the
   * workload's status showed where its instances run, so that no status marks the node lost and the
   * rebuild finds nothing of it. What runs holds its nodes whatever the ledger says; the ledger
   * that says so keeps admission from promising that room again. Empty while one of the nodes'
   * shards is lost: its rebuild comes first.
   */
  public Optional<LedgerEntry> restore(
      HasMetadata workload, CapacityPool pool, Request demand, int desired, List<String> nodes) {
    String poolName = pool.getMetadata().getName();
    // Built only where none is stored: the pool's model costs a pass over its nodes.
    Made made =
        makeOnce(
            workload,
            poolName,
            ledger ->
                nodes.stream().anyMatch(ledger.lostNodes()::contains)
                    ? null
                    : StoredAdmissions.placed(
                        workload,
                        null,
                        desired,
                        nodes,
                        demand,
                        PoolModels.pool(pool, inventory.nodes(), List.of()),
                        Instant.now()));
    if (made.now()) {
      events.warning(
          workload,
          Reason.ReservationRestored,
          "pool \""
              + poolName
              + "\" held no reservation for the "
              + nodes.size()
              + " running instance(s) of this "
              + workload.getKind()
              + " (it was lost with a ledger shard before the status showed where they run):"
              + " reserved again where they run, on "
              + String.join(", ", new TreeSet<>(nodes)));
    }
    return Optional.ofNullable(made.entry());
  }

  /**
   * The reservation of {@code workload} in {@code pool}: the one stored for it, else the one {@code
   * make} makes on the ledger as it is (null for none), written in one compare-and-swap. The
   * webhook of another replica may have reserved for it just before the API server stored it, and
   * this replica's watch not shown that yet: reserving again would hold its room twice.
   */
  private Made makeOnce(HasMetadata workload, String pool, Function<Ledger, LedgerEntry> make) {
    String uid = workload.getMetadata().getUid();
    LedgerEntry stored = ledgers.entry(pool, uid);
    if (stored != null) {
      return new Made(stored, false);
    }
    return ledgers.change(
        pool,
        ledger -> {
          LedgerEntry held = ledger.entry(uid);
          if (held != null) {
            return LedgerStore.Change.none(new Made(held, false));
          }
          LedgerEntry made = make.apply(ledger);
          return made == null
              ? LedgerStore.Change.none(new Made(null, false))
              : LedgerStore.Change.write(ledger.with(made), new Made(made, true));
        });
  }

  /** A workload's reservation, and whether this replica made it now. */
  private record Made(LedgerEntry entry, boolean now) {}

  /**
   * What a restore for running instances or tasks came to: the entry, or none and whether to look
   * again soon (while a node's shard is lost, its rebuild comes first).
   */
  public record Restored(LedgerEntry entry, boolean waits) {
    /** The outcome of {@link #restore}: without an entry, one of the nodes' shards is lost. */
    public static Restored as(Optional<LedgerEntry> entry) {
      return new Restored(entry.orElse(null), entry.isEmpty());
    }

    /**
     * Nothing can be restored for {@code workload}, since {@code what} is not known: logged, and
     * looked at again at its next change, not sooner.
     */
    public static Restored notKnown(HasMetadata workload, String what) {
      LOG.warnf(
          "%s %s/%s runs without a reservation, and %s is not known: nothing is reserved for it",
          workload.getKind(),
          workload.getMetadata().getNamespace(),
          workload.getMetadata().getName(),
          what);
      return new Restored(null, false);
    }
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
                    c.getType().equals(Conditions.ADMITTED)
                        && Conditions.NOT_ADMITTED.equals(c.getReason())
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
