package dev.nimbus.bench;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.testing.Fixtures;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The benchmarks' pools: {@code count} KWOK nodes of 16 CPUs and 64Gi (KVM-labelled, so any kind
 * may run on them), named {@code prefix-0}, {@code prefix-1}, ..., and one pool of them.
 */
final class BenchPools {
  private static final String POOL_LABEL = "nimbus-bench/pool";

  private BenchPools() {}

  /**
   * Creates the nodes (with {@code labels} besides the pool's) and the pool {@code pool} serving
   * {@code kind} with CPU ratio {@code cpuRatio}, and waits until every node is Ready: KWOK marks
   * them within seconds, and the scheduler places nothing before that.
   */
  static void create(
      KubernetesClient client,
      String pool,
      String prefix,
      Map<String, String> labels,
      int count,
      double cpuRatio,
      CapacityPoolSpec.WorkloadKind kind) {
    Map<String, String> nodeLabels = new HashMap<>(labels);
    nodeLabels.put(POOL_LABEL, pool);
    for (int i = 0; i < count; i++) {
      client
          .nodes()
          .resource(Fixtures.kvmNode(prefix + "-" + i, nodeLabels, "16", "64Gi"))
          .serverSideApply();
    }
    CapacityPool capacity = new CapacityPool();
    capacity.setMetadata(new ObjectMetaBuilder().withName(pool).build());
    capacity.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels(POOL_LABEL, pool).build(),
            new PoolRatios(cpuRatio, 1.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(kind),
            null,
            null));
    client.resource(capacity).serverSideApply();
    for (int i = 0; i < count; i++) {
      client
          .nodes()
          .withName(prefix + "-" + i)
          .waitUntilCondition(
              n ->
                  n.getStatus().getConditions().stream()
                      .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True")),
              120,
              TimeUnit.SECONDS);
    }
  }

  /** Deletes the pool and its nodes. */
  static void delete(KubernetesClient client, String pool, String prefix, int count) {
    client.resources(CapacityPool.class).withName(pool).delete();
    for (int i = 0; i < count; i++) {
      client.nodes().withName(prefix + "-" + i).delete();
    }
  }
}
