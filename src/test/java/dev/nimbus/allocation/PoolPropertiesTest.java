package dev.nimbus.allocation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.ModelFixtures;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Properties of the share-ratio model that must hold for every pool and every history. */
class PoolPropertiesTest {
  private static final long GI = 1L << 30;

  /** One step of a history: admit a request, or release the reservation of an earlier one. */
  record Step(boolean admit, int keyIndex, Amounts perInstance, int minCount, int maxCount) {}

  @Property(tries = 300)
  void noHistoryEverAllocatesMoreThanV(
      @ForAll("nodes") List<Node> nodes, @ForAll("histories") List<Step> history) {
    Pool pool = new Pool("p", nodes, List.of());
    for (Step step : history) {
      pool = apply(pool, step);
      assertWithinCapacity(pool);
    }
  }

  @Property(tries = 200)
  void releasingEverythingRestoresTheEmptyPool(
      @ForAll("nodes") List<Node> nodes, @ForAll("histories") List<Step> history) {
    Pool empty = new Pool("p", nodes, List.of());
    Pool pool = empty;
    for (Step step : history) {
      pool = apply(pool, step);
    }
    for (Reservation reservation : pool.reservations()) {
      pool = released(pool, reservation.key());
    }

    assertThat(pool.reservations()).isEmpty();
    assertThat(pool.allocated()).isEqualTo(Amounts.ZERO);
    assertThat(pool.free()).isEqualTo(empty.free());
    for (Node node : nodes) {
      assertThat(pool.freeOn(node.name())).isEqualTo(node.virtual());
    }
  }

  @Property(tries = 200)
  void theOrderOfReleasesDoesNotMatter(
      @ForAll("nodes") List<Node> nodes,
      @ForAll("histories") List<Step> history,
      @ForAll @IntRange(min = 0, max = 1000) int keep,
      @ForAll long seed) {
    Pool pool = new Pool("p", nodes, List.of());
    for (Step step : history) {
      if (step.admit()) {
        pool = apply(pool, step);
      }
    }
    List<String> keys =
        new ArrayList<>(pool.reservations().stream().map(Reservation::key).toList());
    List<String> released = keys.subList(0, keys.isEmpty() ? 0 : keep % (keys.size() + 1));
    List<String> shuffled = new ArrayList<>(released);
    Collections.shuffle(shuffled, new Random(seed));

    Pool inOrder = pool;
    for (String key : released) {
      inOrder = released(inOrder, key);
    }
    Pool shuffledOrder = pool;
    for (String key : shuffled) {
      shuffledOrder = released(shuffledOrder, key);
    }

    assertThat(shuffledOrder.allocated()).isEqualTo(inOrder.allocated());
    assertThat(shuffledOrder.reservations())
        .containsExactlyInAnyOrderElementsOf(inOrder.reservations());
    for (Node node : nodes) {
      assertThat(shuffledOrder.freeOn(node.name())).isEqualTo(inOrder.freeOn(node.name()));
    }
  }

  @Property(tries = 300)
  void anInstanceLargerThanEveryNodeIsAlwaysRejected(
      @ForAll("nodes") List<Node> nodes,
      @ForAll("histories") List<Step> history,
      @ForAll @IntRange(min = 1, max = 4) int count) {
    Pool pool = new Pool("p", nodes, List.of());
    for (Step step : history) {
      pool = apply(pool, step);
    }
    long largestCpu =
        nodes.stream().mapToLong(n -> n.virtual().get(Resource.CPU)).max().orElseThrow();
    Amounts tooLarge = Amounts.of(largestCpu + 1, 1, 0);

    Verdict verdict = pool.admit(ModelFixtures.anywhere("too-large", tooLarge, 1, count));

    assertThat(verdict).isInstanceOf(Verdict.Rejected.class);
    Verdict.Rejected rejected = (Verdict.Rejected) verdict;
    if (rejected.reason() == Verdict.Reason.NO_NODE_FITS) {
      assertThat(rejected.resource()).isEqualTo(Resource.CPU);
    }
  }

  @Property(tries = 300)
  void admittedCountsStayWithinMinAndMax(
      @ForAll("nodes") List<Node> nodes, @ForAll("histories") List<Step> history) {
    Pool pool = new Pool("p", nodes, List.of());
    for (Step step : history) {
      if (!step.admit()) {
        continue;
      }
      Verdict verdict = pool.admit(request(step));
      if (verdict instanceof Verdict.Admitted admitted) {
        assertThat(admitted.reservation().count()).isBetween(step.minCount(), step.maxCount());
        pool = pool.hold(admitted.reservation());
      }
    }
  }

  /**
   * A pool changed from a snapshot (as a commit round decides each change on the ledger the one
   * before left) decides and sums exactly as a pool built whole from the same reservations, updates
   * of a held key included, whenever the snapshot was taken.
   */
  @Property(tries = 300)
  void aPoolChangedFromASnapshotDecidesAsOneBuiltWhole(
      @ForAll("nodes") List<Node> nodes,
      @ForAll("histories") List<Step> history,
      @ForAll long seed) {
    Random random = new Random(seed);
    Pool whole = new Pool("p", nodes, List.of());
    Pool snapshot = whole;
    Map<String, Optional<Reservation>> changes = new HashMap<>();
    for (Step step : history) {
      Pool changed = snapshot.changed(Map.copyOf(changes));
      String key = "w" + step.keyIndex();
      if (step.admit()) {
        Verdict verdict = changed.admit(request(step));
        assertThat(verdict).isEqualTo(whole.admit(request(step)));
        if (verdict instanceof Verdict.Admitted admitted) {
          whole = whole.hold(admitted.reservation());
          changes.put(key, Optional.of(admitted.reservation()).filter(r -> r.count() > 0));
        }
      } else {
        // Built whole, without the reservation: what the changed model must equal.
        whole =
            new Pool(
                "p",
                nodes,
                whole.reservations().stream().filter(r -> !r.key().equals(key)).toList());
        changes.put(key, Optional.empty());
      }
      if (random.nextInt(4) == 0) {
        snapshot = new Pool("p", nodes, whole.reservations());
        changes.clear();
      }
      Pool now = snapshot.changed(Map.copyOf(changes));
      assertThat(now.allocated()).isEqualTo(whole.allocated());
      for (Node node : nodes) {
        assertThat(now.allocatedOn(node.name())).isEqualTo(whole.allocatedOn(node.name()));
      }
      assertThat(now.reservations()).containsExactlyInAnyOrderElementsOf(whole.reservations());
    }
  }

  /** The pool without the reservation under {@code key}, as a commit round changes its model. */
  private static Pool released(Pool pool, String key) {
    return pool.changed(Map.of(key, Optional.empty()));
  }

  private static Pool apply(Pool pool, Step step) {
    if (!step.admit()) {
      return released(pool, "w" + step.keyIndex());
    }
    Verdict verdict = pool.admit(request(step));
    return verdict instanceof Verdict.Admitted admitted ? pool.hold(admitted.reservation()) : pool;
  }

  private static Request request(Step step) {
    return ModelFixtures.anywhere(
        "w" + step.keyIndex(), step.perInstance(), step.minCount(), step.maxCount());
  }

  private static void assertWithinCapacity(Pool pool) {
    for (Resource resource : Resource.values()) {
      assertThat(pool.allocated().get(resource))
          .as("allocated %s", resource)
          .isLessThanOrEqualTo(pool.virtual().get(resource));
    }
    Map<String, Long> instances = new HashMap<>();
    pool.reservations()
        .forEach(r -> r.placements().forEach(p -> instances.merge(p.node(), 1L, Long::sum)));
    for (Node node : pool.nodes()) {
      assertThat(pool.allocatedOn(node.name()).fitsIn(node.virtual()))
          .as("allocation on %s within P × R", node.name())
          .isTrue();
      assertThat(instances.getOrDefault(node.name(), 0L))
          .as("instances on %s within its pod slots", node.name())
          .isLessThanOrEqualTo(node.podSlots());
    }
  }

  @Provide
  Arbitrary<List<Node>> nodes() {
    Arbitrary<Ratio> ratios = Arbitraries.of(1000L, 1500L, 2000L, 4000L, 2500L).map(Ratio::new);
    Arbitrary<Node> node =
        Combinators.combine(
                Arbitraries.longs().between(1, 64).map(cores -> cores * 1000),
                Arbitraries.longs().between(1, 256).map(gi -> gi * GI),
                ratios,
                ratios,
                Arbitraries.longs().between(1, 12))
            .as(
                (cpu, memory, cpuRatio, memoryRatio, podSlots) ->
                    new Node(
                        "n",
                        Amounts.of(cpu, memory, 100 * GI),
                        Map.of(
                            Resource.CPU, cpuRatio,
                            Resource.MEMORY, memoryRatio,
                            Resource.EPHEMERAL_STORAGE, Ratio.ONE),
                        Map.of(),
                        podSlots));
    return node.list()
        .ofMinSize(1)
        .ofMaxSize(8)
        .map(
            list -> {
              List<Node> named = new ArrayList<>();
              for (int i = 0; i < list.size(); i++) {
                Node n = list.get(i);
                named.add(
                    new Node("node-" + i, n.physical(), n.ratios(), n.labels(), n.podSlots()));
              }
              return named;
            });
  }

  @Provide
  Arbitrary<List<Step>> histories() {
    Arbitrary<Amounts> demand =
        Combinators.combine(
                Arbitraries.longs().between(1, 48_000),
                Arbitraries.longs().between(1, 128).map(gi -> gi * GI / 2))
            .as((cpu, memory) -> Amounts.of(cpu, memory, 0));
    Arbitrary<Step> step =
        Combinators.combine(
                Arbitraries.of(true, true, true, false),
                Arbitraries.integers().between(0, 15),
                demand,
                Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(0, 5))
            .as(
                (admit, key, perInstance, min, extra) ->
                    new Step(admit, key, perInstance, min, min + extra));
    return step.list().ofMaxSize(40);
  }
}
