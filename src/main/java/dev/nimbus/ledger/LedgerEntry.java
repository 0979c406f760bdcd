package dev.nimbus.ledger;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Resource;
import java.util.ArrayList;
import java.util.List;

/**
 * One reservation in a pool's ledger: which object holds it (by UID, so a deleted and recreated
 * object of the same name never inherits it), when it was made, for which generation of the object
 * (so a reservation made for an update that was never stored is told from one that was), and where
 * each instance is placed.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LedgerEntry(
    String uid,
    String kind,
    String namespace,
    String name,
    String reservedAt,
    int desired,
    List<Placement> placements,
    // The metadata.generation admission saw; absent in entries written before it was recorded.
    Long generation) {

  /**
   * One instance: its node and what it holds there (millicores and bytes), and the overhead its
   * runtime adds on that node in physical units (absent for none, as in entries written before
   * overhead was counted).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Placement(
      String node, long cpu, long memory, long ephemeralStorage, Overhead overhead) {
    Placement(String node, Amounts demand, Amounts overhead) {
      this(
          node,
          demand.get(Resource.CPU),
          demand.get(Resource.MEMORY),
          demand.get(Resource.EPHEMERAL_STORAGE),
          Overhead.of(overhead));
    }

    Amounts demand() {
      return Amounts.of(cpu, memory, ephemeralStorage);
    }

    Amounts overheadAmounts() {
      return overhead == null ? Amounts.ZERO : overhead.amounts();
    }
  }

  /** Physical millicores and bytes a runtime adds per instance (KubeVirt's launcher pod). */
  public record Overhead(long cpu, long memory, long ephemeralStorage) {
    /** {@code amounts} as stored: null for none. */
    public static Overhead of(Amounts amounts) {
      return amounts.isZero()
          ? null
          : new Overhead(
              amounts.get(Resource.CPU),
              amounts.get(Resource.MEMORY),
              amounts.get(Resource.EPHEMERAL_STORAGE));
    }

    public Amounts amounts() {
      return Amounts.of(cpu, memory, ephemeralStorage);
    }
  }

  public static LedgerEntry of(
      String kind,
      String namespace,
      String name,
      int desired,
      Reservation reservation,
      ReservedAt at,
      Long generation) {
    List<Placement> placements =
        reservation.placements().stream()
            .map(p -> new Placement(p.node(), p.demand(), p.overhead()))
            .toList();
    return new LedgerEntry(
        reservation.key(), kind, namespace, name, at.stored(), desired, placements, generation);
  }

  public Reservation reservation() {
    return new Reservation(
        uid,
        placements.stream()
            .map(p -> new Reservation.Placement(p.node(), p.demand(), p.overheadAmounts()))
            .toList());
  }

  /**
   * This entry with only its first {@code count} instances, each on the node it holds: a scale down
   * or a stop (count 0) never moves what keeps running.
   */
  public LedgerEntry trimmedTo(int count) {
    int kept = Math.min(count, placements.size());
    return new LedgerEntry(
        uid,
        kind,
        namespace,
        name,
        reservedAt,
        kept,
        List.copyOf(placements.subList(0, kept)),
        generation);
  }

  /**
   * This entry with instance {@code index} as {@code placement} holds it: on another node, with the
   * same demand and that node's overhead.
   */
  public LedgerEntry movedTo(int index, Reservation.Placement placement) {
    List<Placement> next = new ArrayList<>(placements);
    next.set(index, new Placement(placement.node(), placement.demand(), placement.overhead()));
    return new LedgerEntry(
        uid, kind, namespace, name, reservedAt, desired, List.copyOf(next), generation);
  }

  /** This entry, now standing for generation {@code generation} of its object. */
  public LedgerEntry atGeneration(long generation) {
    return new LedgerEntry(uid, kind, namespace, name, reservedAt, desired, placements, generation);
  }

  public int count() {
    return placements.size();
  }
}
