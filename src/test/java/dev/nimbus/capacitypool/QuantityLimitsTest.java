package dev.nimbus.capacitypool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Resource;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.testing.Fixtures;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Quantities past what a 64-bit count holds are never wrapped into small ones: an instance type
 * larger than Nimbus counts is refused, and a node that claims more than that counts as that much.
 */
class QuantityLimitsTest {
  @Test
  void anInstanceTypeOf16EiIsRefusedNotWrapped() {
    // 16Ei is 2^64 bytes: as a long it wraps to 0, and would fit any pool.
    assertThatThrownBy(() -> Demands.of(server(), Fixtures.instanceType("huge", 1, "16Ei")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("16Ei")
        .hasMessageContaining("at most 16Ti");
  }

  @Test
  void theLargestCountedInstanceTypeIsCountedExactly() {
    var demand = Demands.of(server(), Fixtures.instanceType("largest", 1, "16Ti"));
    assertThat(demand.perInstance().get(Resource.MEMORY)).isEqualTo(16L << 40);
  }

  @Test
  void aNodeThatClaimsMoreThanIsCountedCountsAsTheMostThatIs() {
    var pool = Fixtures.serverPool("p", "group", "big");
    var node = Fixtures.kvmNode("n", Map.of("group", "big"), "100E", "100Ei");

    Pool model = PoolModels.pool(pool, List.of(node), List.of());

    assertThat(model.physical().get(Resource.MEMORY)).isEqualTo(PoolModels.MAX_NODE_AMOUNT);
    assertThat(model.physical().get(Resource.CPU)).isEqualTo(PoolModels.MAX_NODE_AMOUNT);
    // The model's arithmetic stays exact with such nodes: V, a decision, a denial.
    assertThat(model.virtual().get(Resource.MEMORY)).isPositive();
    // Less than all of it: the launcher's overhead comes on top of what the guest gets.
    var verdict = model.admit(Demands.of(server(), Fixtures.instanceType("largest", 256, "15Ti")));
    assertThat(verdict).isInstanceOf(Verdict.Admitted.class);
  }

  private static VirtualServer server() {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder().withName("s").withNamespace("n").withUid("u").build());
    server.setSpec(
        new VirtualServerSpec("image", "huge", 1, 1, null, null, null, "p", true, false));
    return server;
  }
}
