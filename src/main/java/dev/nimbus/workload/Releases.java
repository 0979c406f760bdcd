package dev.nimbus.workload;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.ledger.LedgerStore;
import io.fabric8.kubernetes.api.model.HasMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * The one way a workload gives its capacity back, shared by both workload controllers: its entry
 * leaves the pool's ledger, and an Event and a log line say so, once.
 */
@ApplicationScoped
public class Releases {
  private static final Logger LOG = Logger.getLogger(Releases.class);

  private final LedgerStore ledgers;
  private final Inventory inventory;
  private final EventRecorder events;

  public Releases(LedgerStore ledgers, Inventory inventory, EventRecorder events) {
    this.ledgers = ledgers;
    this.inventory = inventory;
    this.events = events;
  }

  /** Returns what {@code workload} holds in {@code pool}, if it holds anything, saying why. */
  public void release(HasMetadata workload, String pool, String why) {
    if (ledgers.release(pool, workload.getMetadata().getUid())) {
      LOG.infof(
          "Released the capacity of %s %s/%s in pool %s: %s",
          workload.getKind(),
          workload.getMetadata().getNamespace(),
          workload.getMetadata().getName(),
          pool,
          why);
      events.normal(
          workload, Reason.CapacityReleased, "returned its capacity to pool " + pool + ": " + why);
    }
  }

  /**
   * Returns everything a deleted workload holds: in the pool where the watch of the ledgers saw its
   * reservation, else in every pool, so that nothing is left behind.
   */
  public void releaseDeleted(HasMetadata workload) {
    List<CapacityPool> pools =
        AdmittedPool.holding(workload, inventory, ledgers)
            .map(List::of)
            .orElseGet(inventory::pools);
    for (CapacityPool pool : pools) {
      release(workload, pool.getMetadata().getName(), "it is deleted");
    }
  }
}
