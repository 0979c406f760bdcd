package dev.nimbus.virtualserver;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Resource;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.testing.ModelFixtures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What KubeVirt's launcher adds to a VM's requests, and how admission counts it. */
class LauncherOverheadTest {
  private static final long MI = 1024L * 1024;
  private static final long GI = 1024 * MI;

  /**
   * A launcher pod real virt-controller (v1.7.0) rendered for a VM of 1 vCPU requesting 1Gi: its
   * compute container asked 1294Mi, the console log 35M, the disk container 1M; CPU 5m and 1m.
   */
  @Test
  void oneVcpuAndOneGibibyteCostWhatVirtControllerRendered() {
    Amounts overhead = LauncherOverhead.of(1, GI);
    assertThat(overhead.get(Resource.MEMORY)).isEqualTo(270 * MI + 36_000_000);
    assertThat(overhead.get(Resource.CPU)).isEqualTo(6);
    assertThat(overhead.get(Resource.EPHEMERAL_STORAGE)).isEqualTo(100_000_000);
  }

  /** Page tables follow the memory request; every vCPU adds 8Mi. */
  @Test
  void itGrowsWithMemoryAndVcpus() {
    long base = LauncherOverhead.of(1, GI).get(Resource.MEMORY);
    assertThat(LauncherOverhead.of(4, GI).get(Resource.MEMORY)).isEqualTo(base + 3 * 8 * MI);
    assertThat(LauncherOverhead.of(1, 64 * GI).get(Resource.MEMORY) - base)
        .isEqualTo(128 * MI - 2 * MI); // 64Gi/512 against 1Gi/512
  }

  /**
   * Overhead is physical: on a node at CPU ratio 4 it costs four times its size of V, so the
   * launcher pods that the ledger admits all fit the node's allocatable.
   */
  @Test
  void admissionCountsOverheadAtTheNodesRatio() {
    Node node = ModelFixtures.node("kvm-0", Amounts.of(8_000, 64 * GI, 1_000 * GI), Ratio.of(4));
    Pool pool = new Pool("p", List.of(node), List.of());
    Amounts demand = Amounts.of(2_000, 4 * GI, 0);
    Request request =
        new Request("web", demand, 1, 100, labels -> true, n -> LauncherOverhead.on(n, demand));

    Reservation admitted = ((Verdict.Admitted) pool.admit(request)).reservation();

    // Each holds 2000m + 4 × 6m of 32000m of V: 15, where 16 would fit without overhead.
    assertThat(admitted.count()).isEqualTo(15);
    long requested =
        admitted.count()
            * (node.requestsFor(demand).get(Resource.CPU)
                + admitted.placements().get(0).overhead().get(Resource.CPU));
    assertThat(requested).isLessThanOrEqualTo(8_000);
  }
}
