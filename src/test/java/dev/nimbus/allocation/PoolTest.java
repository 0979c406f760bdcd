package dev.nimbus.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.ModelFixtures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The model on examples a user would recognise, with the exact sentences they would read. */
class PoolTest {
  private static final long GI = 1L << 30;

  /** Three 16-core, 64Gi nodes at cpu ratio 4: V = 192 cores. */
  private static Pool kvmPool() {
    return new Pool(
        "kvm",
        List.of(
            ModelFixtures.node("kvm-0", Amounts.of(16_000, 64 * GI, 0), new Ratio(4000)),
            ModelFixtures.node("kvm-1", Amounts.of(16_000, 64 * GI, 0), new Ratio(4000)),
            ModelFixtures.node("kvm-2", Amounts.of(16_000, 64 * GI, 0), new Ratio(4000))),
        List.of());
  }

  @Test
  void virtualCapacityIsPhysicalTimesRatio() {
    Pool pool = kvmPool();

    assertThat(pool.physical().get(Resource.CPU)).isEqualTo(48_000);
    assertThat(pool.virtual().get(Resource.CPU)).isEqualTo(192_000);
    assertThat(pool.virtual().get(Resource.MEMORY)).isEqualTo(3 * 4 * 64 * GI);
  }

  @Test
  void admitsAsManyAsFitUpToMaxCount() {
    // 64-core instances: one per node.
    Verdict verdict =
        kvmPool().admit(ModelFixtures.anywhere("web", Amounts.of(64_000, GI, 0), 2, 5));

    assertThat(verdict).isInstanceOf(Verdict.Admitted.class);
    Reservation reservation = ((Verdict.Admitted) verdict).reservation();
    assertThat(reservation.count()).isEqualTo(3);
    assertThat(reservation.placements())
        .extracting(Reservation.Placement::node)
        .containsExactlyInAnyOrder("kvm-0", "kvm-1", "kvm-2");
  }

  @Test
  void aNodeHostsNoMoreInstancesThanItsKubeletHasPodSlots() {
    // Room for 64 one-vCPU instances on each node, but pods for 3: every instance is one pod.
    Pool pool =
        new Pool(
            "kvm",
            List.of(
                ModelFixtures.node("kvm-0", Amounts.of(16_000, 64 * GI, 0), new Ratio(4000), 3),
                ModelFixtures.node("kvm-1", Amounts.of(16_000, 64 * GI, 0), new Ratio(4000), 3)),
            List.of());

    Verdict verdict = pool.admit(ModelFixtures.anywhere("web", Amounts.of(1_000, GI, 0), 1, 10));

    Reservation reservation = ((Verdict.Admitted) verdict).reservation();
    assertThat(reservation.placements())
        .extracting(Reservation.Placement::node)
        .containsExactlyInAnyOrder("kvm-0", "kvm-0", "kvm-0", "kvm-1", "kvm-1", "kvm-1");
    Verdict more =
        pool.hold(reservation)
            .admit(ModelFixtures.anywhere("more", Amounts.of(1_000, GI, 0), 1, 1));
    assertThat(Denials.describe("kvm", (Verdict.OutOfPodSlots) more))
        .isEqualTo(
            "pool \"kvm\": the nodes with room for an instance have no free pod slot: their"
                + " kubelets allow 6 pods in all, one per instance, and the pool's instances hold"
                + " them");
  }

  @Test
  void deniesWhenFewerThanMinCountFit() {
    Pool pool = kvmPool();
    pool =
        pool.hold(
            ((Verdict.Admitted)
                    pool.admit(ModelFixtures.anywhere("a", Amounts.of(64_000, GI, 0), 2, 2)))
                .reservation());

    Verdict verdict = pool.admit(ModelFixtures.anywhere("b", Amounts.of(64_000, GI, 0), 2, 5));

    assertThat(verdict).isInstanceOf(Verdict.Rejected.class);
    assertThat(Denials.describe("kvm", (Verdict.Rejected) verdict))
        .isEqualTo(
            "pool \"kvm\": cpu asked 128, free 64 of 192 (48 physical × 4); only 1 instance(s) fit");
  }

  @Test
  void roomSpreadOverNodesDoesNotHostOneLargeInstance() {
    // 3 × 64 virtual cores free, but a 100-core instance fits on no single node.
    Verdict verdict =
        kvmPool().admit(ModelFixtures.anywhere("big", Amounts.of(100_000, GI, 0), 1, 1));

    assertThat(verdict).isInstanceOf(Verdict.Rejected.class);
    Verdict.Rejected rejected = (Verdict.Rejected) verdict;
    assertThat(rejected.reason()).isEqualTo(Verdict.Reason.NO_NODE_FITS);
    assertThat(Denials.describe("kvm", rejected))
        .isEqualTo(
            "pool \"kvm\": cpu asked 100 per instance, but the most free on any one node is 64"
                + " (cpu free 192 of 192 = 48 physical × 4, spread over several nodes)");
  }

  @Test
  void aDenialForRoomSpreadTooThinGivesTheFreeRoomThatDecidedIt() {
    // 60 of each node's 64 virtual cores held: 12 free in total, at most 4 on one node.
    Pool pool = kvmPool();
    for (String node : List.of("kvm-0", "kvm-1", "kvm-2")) {
      pool =
          pool.hold(
              new Reservation(
                  "held-" + node,
                  List.of(new Reservation.Placement(node, Amounts.of(60_000, GI, 0)))));
    }

    Verdict verdict = pool.admit(ModelFixtures.anywhere("ten", Amounts.of(10_000, GI, 0), 1, 1));

    assertThat(Denials.describe("kvm", (Verdict.Rejected) verdict))
        .isEqualTo(
            "pool \"kvm\": cpu asked 10 per instance, but the most free on any one node is 4"
                + " (cpu free 12 of 192 = 48 physical × 4, spread over several nodes)");
  }

  @Test
  void anUpdateReplacesTheReservationItHolds() {
    Pool pool = kvmPool();
    Reservation first =
        ((Verdict.Admitted)
                pool.admit(ModelFixtures.anywhere("web", Amounts.of(64_000, GI, 0), 3, 3)))
            .reservation();
    pool = pool.hold(first);

    // The pool is full, yet the same workload may resize within what it holds.
    Verdict resized = pool.admit(ModelFixtures.anywhere("web", Amounts.of(32_000, GI, 0), 6, 6));

    assertThat(resized).isInstanceOf(Verdict.Admitted.class);
    assertThat(((Verdict.Admitted) resized).reservation().count()).isEqualTo(6);
  }

  @Test
  void scalingKeepsRunningInstancesOnTheirNodes() {
    Pool pool = kvmPool();
    Amounts size = Amounts.of(8_000, GI, 0);
    pool = pool.hold(admitted(pool, ModelFixtures.anywhere("web", size, 2, 2)));
    assertThat(nodesOf(pool.reservation("web"))).containsExactly("kvm-0", "kvm-0");
    // Another workload leaves kvm-1 the tightest fit, where best fit alone would move "web".
    pool = pool.hold(admitted(pool, ModelFixtures.anywhere("db", Amounts.of(50_000, GI, 0), 1, 1)));
    assertThat(nodesOf(pool.reservation("db"))).containsExactly("kvm-1");

    Reservation up = admitted(pool, ModelFixtures.anywhere("web", size, 3, 3));
    Reservation down = admitted(pool.hold(up), ModelFixtures.anywhere("web", size, 1, 1));
    Reservation resized =
        admitted(pool, ModelFixtures.anywhere("web", Amounts.of(4_000, GI, 0), 2, 2));

    assertThat(nodesOf(up)).containsExactly("kvm-0", "kvm-0", "kvm-1");
    assertThat(nodesOf(down)).containsExactly("kvm-0");
    assertThat(nodesOf(resized))
        .as("a new size is placed afresh")
        .containsExactly("kvm-1", "kvm-1");
  }

  private static Reservation admitted(Pool pool, Request request) {
    Verdict verdict = pool.admit(request);
    assertThat(verdict).isInstanceOf(Verdict.Admitted.class);
    return ((Verdict.Admitted) verdict).reservation();
  }

  private static List<String> nodesOf(Reservation reservation) {
    return reservation.placements().stream().map(Reservation.Placement::node).toList();
  }

  @Test
  void requestsOnANodeAreTheDemandDividedByItsRatio() {
    Node node = ModelFixtures.node("kvm-0", Amounts.of(16_000, 64 * GI, 0), new Ratio(4000));

    assertThat(node.requestsFor(Amounts.of(2000, 4 * GI, 0))).isEqualTo(Amounts.of(500, GI, 0));
    assertThat(new Ratio(1500).divide(1000)).as("rounded up").isEqualTo(667);
  }

  @Test
  void amountsAreFormattedForPeople() {
    assertThat(Denials.format(Resource.CPU, 500)).isEqualTo("0.5");
    assertThat(Denials.format(Resource.CPU, 8000)).isEqualTo("8");
    assertThat(Denials.format(Resource.MEMORY, 4 * GI)).isEqualTo("4Gi");
    assertThat(Denials.format(Resource.MEMORY, 1536L << 20)).isEqualTo("1536Mi");
  }
}
