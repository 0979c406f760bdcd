package dev.nimbus.virtualserver;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.capacitypool.Demands;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.config.NimbusConfig;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.ledger.ReservedAt;
import dev.nimbus.ledger.Sightings;
import dev.nimbus.naming.Names;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.jboss.logging.Logger;

/**
 * Keeps a VirtualServer's reservation true to its stored spec, so that what runs follows what was
 * stored, never an answer admission gave to an update that was then refused; and recovers the
 * instances whose node is gone.
 *
 * <p>An instance whose node was deleted is placed again on another node of the pool with room,
 * keeping its index, id and size, as EC2 recovers an instance from a failed host; its VM then
 * restarts there. Where no node has room, it keeps its reservation and is tried again.
 *
 * <p>Each reservation records the generation admission saw. The controller compares it with the
 * stored object's generation:
 *
 * <ul>
 *   <li>equal (or not recorded): the reservation is the stored spec's; it is acted on;
 *   <li>newer: an update raised the demand and was admitted, but is not stored. Within the orphan
 *       grace period it may still be stored, so nothing is built or removed meanwhile; past it, the
 *       update was refused, and the reservation is reconciled back to the stored spec (an Event
 *       says so);
 *   <li>older: the stored spec changed without a new reservation, which only a change that raises
 *       no demand does (a stop, a scale down). The instances past the stored count stop first; once
 *       they are gone, the reservation is trimmed to the stored spec and the capacity returns.
 * </ul>
 */
@ApplicationScoped
public class ServerReservations {
  private static final Logger LOG = Logger.getLogger(ServerReservations.class);
  static final Duration TRIM_RECHECK = Duration.ofSeconds(2);
  static final Duration RECOVERY_RECHECK = Duration.ofSeconds(30);

  private final LedgerStore ledgers;
  private final Inventory inventory;
  private final EventRecorder events;
  private final Duration grace;
  private final Sightings<String> newerThanStored = new Sightings<>();

  public ServerReservations(
      LedgerStore ledgers, Inventory inventory, EventRecorder events, NimbusConfig config) {
    this.ledgers = ledgers;
    this.inventory = inventory;
    this.events = events;
    this.grace = config.ledger().orphanGracePeriod();
  }

  /**
   * What the controller acts on: the reservation as the stored spec has it (null: none), whether to
   * leave the instances as they are for now, and when to look again.
   */
  public record Reconciled(LedgerEntry entry, boolean hold, Optional<Duration> recheck) {
    static Reconciled as(LedgerEntry entry) {
      return new Reconciled(entry, false, Optional.empty());
    }
  }

  /**
   * Reconciles {@code entry}, the reservation of {@code server} in {@code pool}, with the stored
   * spec; {@code running} are the indices of the server's instances that still have a VM or VMI.
   */
  public Reconciled reconcile(
      VirtualServer server,
      CapacityPool pool,
      LedgerEntry entry,
      Set<Integer> running,
      Predicate<String> nodeExists) {
    if (entry == null) {
      return Reconciled.as(null);
    }
    LedgerEntry recovered = recover(server, pool, entry, nodeExists);
    if (recovered == null) {
      return Reconciled.as(null);
    }
    Reconciled reconciled = reconcileGeneration(server, pool, recovered, running);
    boolean stillLost =
        reconciled.entry() != null
            && reconciled.entry().placements().stream().anyMatch(p -> !nodeExists.test(p.node()));
    return stillLost && reconciled.recheck().isEmpty()
        ? new Reconciled(reconciled.entry(), reconciled.hold(), Optional.of(RECOVERY_RECHECK))
        : reconciled;
  }

  private Reconciled reconcileGeneration(
      VirtualServer server, CapacityPool pool, LedgerEntry entry, Set<Integer> running) {
    if (entry.generation() == null) {
      return Reconciled.as(entry);
    }
    long stored = Objects.requireNonNullElse(server.getMetadata().getGeneration(), 1L);
    if (entry.generation() == stored) {
      return Reconciled.as(entry);
    }
    if (entry.generation() > stored) {
      // Judged on the API server's clock from when the newer reservation was decided, or, for one
      // that records no such time, on this replica's from when it first saw it: no clock of
      // another machine can end the grace early.
      String newer = entry.uid() + "@" + entry.generation();
      Duration age = ledgers.ageOf(entry, newerThanStored.seenFor(newer));
      if (age.compareTo(grace) < 0) {
        return new Reconciled(entry, true, Optional.of(grace.minus(age).plus(TRIM_RECHECK)));
      }
      LedgerEntry back = reconcileBack(server, pool, entry, stored, age);
      // The sighting is kept while this reservation still stands: a write that failed or lost a
      // race is tried again at the next look, not after a grace counted afresh.
      if (back == null || !Objects.equals(back.generation(), entry.generation())) {
        newerThanStored.forget(newer);
      }
      // Reconciled when the result stands for the stored generation; else look again.
      return back == null || Objects.equals(back.generation(), stored)
          ? Reconciled.as(back)
          : new Reconciled(back, true, Optional.of(TRIM_RECHECK));
    }
    int target = storedCount(server, entry);
    boolean gone = running.stream().allMatch(index -> index < target);
    if (target < entry.count() && !gone) {
      // The instances past the stored count stop first; their capacity returns once they have.
      return new Reconciled(entry.trimmedTo(target), false, Optional.of(TRIM_RECHECK));
    }
    LedgerEntry trimmed = entry.trimmedTo(target).atGeneration(stored);
    LedgerEntry written = write(pool, entry, trimmed);
    // Another write came first (or the cache was behind it): look again on what is stored now.
    return Objects.equals(written, trimmed.count() == 0 ? null : trimmed)
        ? Reconciled.as(written)
        : new Reconciled(written, false, Optional.of(TRIM_RECHECK));
  }

  /**
   * {@code entry} with every instance whose node is gone placed on a node of the pool with room, in
   * one compare-and-swap; an instance for which no node has room keeps its place.
   */
  private LedgerEntry recover(
      VirtualServer server, CapacityPool pool, LedgerEntry entry, Predicate<String> nodeExists) {
    List<Integer> lost =
        IntStream.range(0, entry.count())
            .filter(index -> !nodeExists.test(entry.placements().get(index).node()))
            .boxed()
            .toList();
    if (lost.isEmpty()) {
      return entry;
    }
    LedgerEntry recovered =
        write(
            pool,
            entry,
            ledger -> {
              List<Reservation> held = new ArrayList<>();
              for (Reservation reservation : ledger.reservations()) {
                if (!reservation.key().equals(entry.uid())) {
                  held.add(reservation);
                }
              }
              // The instances that keep their node stay held while the lost ones are placed.
              List<Reservation.Placement> kept = new ArrayList<>();
              for (int index = 0; index < entry.count(); index++) {
                if (!lost.contains(index)) {
                  kept.add(entry.reservation().placements().get(index));
                }
              }
              held.add(new Reservation(entry.uid(), kept));
              Pool model = PoolModels.deciding(pool, inventory.nodes(), ledger, held);
              LedgerEntry next = entry;
              for (int index : lost) {
                Amounts demand = entry.reservation().placements().get(index).demand();
                Request one =
                    new Request(
                        entry.uid() + "/recover/" + index,
                        demand,
                        1,
                        1,
                        labels -> "true".equals(labels.get(Names.KVM_NODE_LABEL)),
                        node -> LauncherOverhead.on(node, demand));
                if (model.admit(one) instanceof Verdict.Admitted admitted) {
                  next = next.movedTo(index, admitted.reservation().placements().get(0));
                  model = model.hold(admitted.reservation());
                }
              }
              return next;
            });
    for (int index : lost) {
      String from = entry.placements().get(index).node();
      String to =
          recovered == null || recovered.count() <= index
              ? from
              : recovered.placements().get(index).node();
      String id = Names.instanceId(entry.uid(), index);
      if (!to.equals(from)) {
        events.normal(
            server,
            Reason.InstanceRecovered,
            "instance " + id + " lost node " + from + "; recovered on node " + to);
      } else {
        events.warning(
            server,
            Reason.InstanceRecovered,
            "instance "
                + id
                + " lost node "
                + from
                + "; no node of pool "
                + pool.getMetadata().getName()
                + " has room to recover it yet");
      }
    }
    return recovered;
  }

  /** How many of the reserved instances the stored spec keeps: none when stopped. */
  private static int storedCount(VirtualServer server, LedgerEntry entry) {
    var spec = server.getSpec();
    if (Boolean.FALSE.equals(spec.running())) {
      return 0;
    }
    return Math.min(entry.count(), spec.maxCount() == null ? 1 : spec.maxCount());
  }

  /**
   * The reservation of an update that was never stored, replaced by one for the stored spec: the
   * same instances trimmed to the stored count where the size is the same; else the stored demand
   * placed again (a refused resize); none when the stored spec is stopped or no longer fits.
   */
  private LedgerEntry reconcileBack(
      VirtualServer server, CapacityPool pool, LedgerEntry entry, long stored, Duration age) {
    var type = inventory.instanceType(server.getSpec().instanceType());
    LedgerEntry written =
        write(
            pool,
            entry,
            ledger -> {
              if (Boolean.FALSE.equals(server.getSpec().running())) {
                return entry.trimmedTo(0);
              }
              if (type.isEmpty()
                  || Demands.of(server, type.get())
                      .perInstance()
                      .equals(entry.reservation().placements().get(0).demand())) {
                return entry.trimmedTo(storedCount(server, entry)).atGeneration(stored);
              }
              Request demand = Demands.of(server, type.get());
              Verdict verdict = PoolModels.deciding(pool, inventory.nodes(), ledger).admit(demand);
              return verdict instanceof Verdict.Admitted admitted
                  ? LedgerEntry.of(
                      entry.kind(),
                      entry.namespace(),
                      entry.name(),
                      server.getSpec().maxCount(),
                      admitted.reservation(),
                      ReservedAt.onThisReplica(Instant.now()),
                      stored)
                  : entry.trimmedTo(0);
            });
    if (written != null && !Objects.equals(written.generation(), stored)) {
      return written; // another write came first; the caller looks again
    }
    String message =
        "pool "
            + pool.getMetadata().getName()
            + " held "
            + entry.count()
            + " instance(s) for generation "
            + entry.generation()
            + ", an update that was admitted but never stored; reconciled back to the stored"
            + " spec (generation "
            + stored
            + "): "
            + (written == null ? 0 : written.count())
            + " instance(s)";
    LOG.infof(
        "VirtualServer %s/%s: %s, %d ms after it was reserved",
        server.getMetadata().getNamespace(),
        server.getMetadata().getName(),
        message,
        age.toMillis());
    events.warning(server, Reason.ReservationReconciled, message);
    return written;
  }

  /**
   * Replaces {@code expected} with what {@code next} makes of the pool's ledger, in one
   * compare-and-swap, unless another admission replaced it meanwhile; returns what the ledger then
   * holds for the server (null: nothing).
   */
  private LedgerEntry write(
      CapacityPool pool, LedgerEntry expected, Function<Ledger, LedgerEntry> next) {
    return ledgers.change(
        pool.getMetadata().getName(),
        ledger -> {
          LedgerEntry current = ledger.entry(expected.uid());
          if (!Objects.equals(current, expected)) {
            return LedgerStore.Change.none(current);
          }
          LedgerEntry replacement = next.apply(ledger);
          if (replacement.equals(current)) {
            return LedgerStore.Change.none(current);
          }
          return LedgerStore.Change.write(
              ledger.with(replacement), replacement.count() == 0 ? null : replacement);
        });
  }

  private LedgerEntry write(CapacityPool pool, LedgerEntry expected, LedgerEntry next) {
    return write(pool, expected, ledger -> next);
  }
}
