package dev.nimbus.virtualserver;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.capacitypool.Demands;
import dev.nimbus.capacitypool.Inventory;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.config.NimbusConfig;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Keeps a VirtualServer's reservation true to its stored spec, so that what runs follows what was
 * stored, never an answer admission gave to an update that was then refused.
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
  static final Duration TRIM_RECHECK = Duration.ofSeconds(2);

  private final LedgerStore ledgers;
  private final Inventory inventory;
  private final EventRecorder events;
  private final Duration grace;

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
      VirtualServer server, CapacityPool pool, LedgerEntry entry, Set<Integer> running) {
    if (entry == null || entry.generation() == null) {
      return Reconciled.as(entry);
    }
    long stored = Objects.requireNonNullElse(server.getMetadata().getGeneration(), 1L);
    if (entry.generation() == stored) {
      return Reconciled.as(entry);
    }
    if (entry.generation() > stored) {
      Duration age = Duration.between(Instant.parse(entry.reservedAt()), Instant.now());
      if (age.compareTo(grace) < 0) {
        return new Reconciled(entry, true, Optional.of(grace.minus(age).plus(TRIM_RECHECK)));
      }
      return Reconciled.as(reconcileBack(server, pool, entry, stored));
    }
    int target = storedCount(server, entry);
    boolean gone = running.stream().allMatch(index -> index < target);
    if (target < entry.count() && !gone) {
      // The instances past the stored count stop first; their capacity returns once they have.
      return new Reconciled(entry.trimmedTo(target), false, Optional.of(TRIM_RECHECK));
    }
    return Reconciled.as(write(pool, entry, entry.trimmedTo(target).atGeneration(stored)));
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
      VirtualServer server, CapacityPool pool, LedgerEntry entry, long stored) {
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
                  || Demands.of(server, type.get()).perInstance().equals(perInstance(entry))) {
                return entry.trimmedTo(storedCount(server, entry)).atGeneration(stored);
              }
              Request demand = Demands.of(server, type.get());
              Verdict verdict =
                  PoolModels.pool(pool, inventory.nodes(), ledger.reservations()).admit(demand);
              return verdict instanceof Verdict.Admitted admitted
                  ? LedgerEntry.of(
                      entry.kind(),
                      entry.namespace(),
                      entry.name(),
                      server.getSpec().maxCount(),
                      admitted.reservation(),
                      Instant.now(),
                      stored)
                  : entry.trimmedTo(0);
            });
    events.warning(
        server,
        Reason.ReservationReconciled,
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
            + " instance(s)");
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
          return LedgerStore.Change.write(
              ledger.with(replacement), replacement.count() == 0 ? null : replacement);
        });
  }

  private LedgerEntry write(CapacityPool pool, LedgerEntry expected, LedgerEntry next) {
    return write(pool, expected, ledger -> next);
  }

  private static Amounts perInstance(LedgerEntry entry) {
    var first = entry.placements().get(0);
    return Amounts.of(first.cpu(), first.memory(), first.ephemeralStorage());
  }
}
