package dev.nimbus.capacitypool;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.testing.Fixtures;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The node models a pool decides on are those {@link PoolModels} builds, kept while the nodes'
 * models stay the same: a heartbeat keeps the list, a change of capacity or labels does not.
 */
class NodeModelsTest {
  private static final CapacityPool POOL = Fixtures.serverPool("kvm", "group", "kvm");

  private final NodeModels models = new NodeModels();

  @Test
  void theModelsAreThoseOfTheSelectedNodesSortedByNameWithoutLostOnes() {
    List<Node> nodes =
        List.of(
            Fixtures.kvmNode("kvm-b", Map.of("group", "kvm"), "8", "32Gi"),
            Fixtures.kvmNode("kvm-a", Map.of("group", "kvm"), "4", "16Gi"),
            Fixtures.kvmNode("kvm-c", Map.of("group", "kvm"), "4", "16Gi"),
            Fixtures.plainNode("plain", Map.of(), "8", "32Gi"));

    var deciding = models.deciding(POOL, nodes, Set.of("kvm-c"));

    assertThat(deciding)
        .isEqualTo(
            List.of(
                PoolModels.node(POOL.getSpec(), nodes.get(1)),
                PoolModels.node(POOL.getSpec(), nodes.get(0))));
  }

  @Test
  void aHeartbeatKeepsTheListAndAChangeOfCapacityOrLabelsBuildsAnother() {
    Node node = Fixtures.kvmNode("kvm-0", Map.of("group", "kvm"), "8", "32Gi");
    var first = models.deciding(POOL, List.of(node), Set.of());

    Node heartbeat =
        new NodeBuilder(node)
            .editMetadata()
            .withResourceVersion("2")
            .endMetadata()
            .editStatus()
            .addNewCondition()
            .withType("Ready")
            .withStatus("True")
            .endCondition()
            .endStatus()
            .build();
    assertThat(models.deciding(POOL, List.of(heartbeat), Set.of())).isSameAs(first);

    Node resized =
        new NodeBuilder(heartbeat)
            .editStatus()
            .addToAllocatable("cpu", new Quantity("16"))
            .endStatus()
            .build();
    var afterResize = models.deciding(POOL, List.of(resized), Set.of());
    assertThat(afterResize).isNotSameAs(first);
    assertThat(afterResize).containsExactly(PoolModels.node(POOL.getSpec(), resized));

    Node relabelled =
        new NodeBuilder(resized).editMetadata().addToLabels("group", "other").endMetadata().build();
    assertThat(models.deciding(POOL, List.of(relabelled), Set.of())).isEmpty();
  }

  @Test
  void aNodesPodSlotsAreItsAllocatablePodsAndUnlimitedWhereItStatesNone() {
    Node node = Fixtures.kvmNode("kvm-0", Map.of("group", "kvm"), "8", "32Gi");
    Node small =
        new NodeBuilder(node)
            .editStatus()
            .addToAllocatable("pods", new Quantity("3"))
            .endStatus()
            .build();
    Node unstated =
        new NodeBuilder(node).editStatus().removeFromAllocatable("pods").endStatus().build();

    assertThat(PoolModels.node(POOL.getSpec(), small).podSlots()).isEqualTo(3);
    assertThat(PoolModels.node(POOL.getSpec(), unstated).podSlots())
        .isEqualTo(dev.nimbus.allocation.Node.UNLIMITED_PODS);
  }
}
