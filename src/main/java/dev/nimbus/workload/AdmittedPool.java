package dev.nimbus.workload;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.inventory.Catalog;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.validation.WorkloadValidator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.ArrayList;
import java.util.Optional;

/**
 * The pool a workload was admitted to. It is recorded once, by the reservation admission wrote, and
 * every later path (updates, placement, status, release) uses it: a pool that stops being the
 * default, or that the spec never named, does not move a workload's capacity elsewhere. Only a
 * workload that holds no reservation (never admitted, stopped, or finished) is resolved afresh:
 * from the pool its status recorded, else from its spec.
 */
public final class AdmittedPool {
  private AdmittedPool() {}

  /**
   * The pool of {@code workload}: the one whose ledger holds its reservation, else {@code recorded}
   * (its status's pool) if that still exists, else the pool its spec names or the kind's default.
   */
  public static Optional<CapacityPool> of(
      HasMetadata workload,
      String named,
      String recorded,
      WorkloadKind kind,
      Catalog inventory,
      LedgerStore ledgers) {
    return holding(workload, inventory, ledgers)
        .or(() -> recorded == null ? Optional.empty() : inventory.pool(recorded))
        .or(() -> WorkloadValidator.resolvePool(named, kind, "", inventory, new ArrayList<>()));
  }

  /**
   * The pool whose ledger holds a reservation of {@code workload}, as the ledgers' watch has it.
   */
  public static Optional<CapacityPool> holding(
      HasMetadata workload, Catalog inventory, LedgerStore ledgers) {
    String uid = workload.getMetadata().getUid();
    return inventory.pools().stream()
        .filter(pool -> ledgers.recent(pool.getMetadata().getName()).entry(uid) != null)
        .findFirst();
  }
}
