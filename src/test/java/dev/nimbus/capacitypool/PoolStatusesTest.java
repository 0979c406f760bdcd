package dev.nimbus.capacitypool;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus;
import dev.nimbus.api.v1alpha1.CapacityPoolStatus.NodeCapacity;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.ModelFixtures;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * A pool's status stays small whatever the pool's size: it is written as the ledger changes, and a
 * status of a few hundred bytes per node would pass etcd's limit of an object at a few thousand
 * nodes (and cost the API server and every watcher as much at each write long before that).
 */
class PoolStatusesTest {
  private static final CapacityPool OBJECT = Fixtures.serverPool("big", "group", "kvm");

  @Test
  void aPoolOfFiveThousandNodesListsTheFirstHundredByNameAndCountsThemAll() {
    Pool pool = new Pool("big", nodes(5_000), List.of());

    CapacityPoolStatus status = PoolStatuses.of(OBJECT, pool, Set.of());

    assertThat(status.nodeCount()).isEqualTo(5_000);
    assertThat(status.nodes()).hasSize(PoolStatuses.LISTED_NODES);
    assertThat(status.nodes().stream().map(NodeCapacity::name))
        .containsExactlyElementsOf(
            pool.nodes().stream().map(Node::name).limit(PoolStatuses.LISTED_NODES).toList());
    assertThat(status.cpu().physical()).isEqualTo("80000");
    assertThat(encodedBytes(status)).as("status in bytes").isLessThan(64 * 1024);
  }

  @Test
  void aPoolWhoseShardsAreAllLostNamesAFewAndCountsTheRest() {
    Pool pool = new Pool("big", nodes(5_000), List.of());
    Set<String> lost = pool.nodes().stream().map(Node::name).collect(Collectors.toSet());

    CapacityPoolStatus status = PoolStatuses.of(OBJECT, pool, lost);

    String message =
        status.conditions().stream()
            .filter(c -> c.getType().equals("LedgerComplete"))
            .findFirst()
            .orElseThrow()
            .getMessage();
    assertThat(message)
        .startsWith("the ledger shards of 5000 nodes are lost")
        .contains(new TreeSet<>(lost).first())
        .contains("and 4990 more");
    assertThat(message.length()).isLessThan(1_024);
    assertThat(encodedBytes(status)).as("status in bytes").isLessThan(64 * 1024);
  }

  private static List<Node> nodes(int count) {
    return IntStream.range(0, count)
        .mapToObj(
            i ->
                ModelFixtures.node(
                    "kvm-worker-" + i, Amounts.of(16_000, 64L << 30, 100L << 30), Ratio.ONE))
        .toList();
  }

  private static int encodedBytes(CapacityPoolStatus status) {
    return new KubernetesSerialization().asJson(status).getBytes(StandardCharsets.UTF_8).length;
  }
}
