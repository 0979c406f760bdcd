package dev.nimbus.testing;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.LedgerShards;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.client.KubernetesClient;

/** A pool's ledger as the API server stores it now: its shards, read and assembled. */
public final class StoredLedgers {
  private StoredLedgers() {}

  public static Ledger read(KubernetesClient client, String namespace, String pool) {
    return LedgerShards.assemble(
        pool,
        client
            .configMaps()
            .inNamespace(namespace)
            .withLabel(Names.POOL_LABEL, pool)
            .withLabel(Names.LEDGER_NODE_LABEL)
            .list()
            .getItems()
            .stream()
            .map(
                map ->
                    LedgerShards.decode(
                        map.getData().get(Names.LEDGER_SHARD_NODE_KEY),
                        map.getData().get(Names.LEDGER_SHARD_KEY)))
            .toList());
  }

  /** Deletes every shard of {@code pool}, and its legacy ledger if it has one. */
  public static void delete(KubernetesClient client, String namespace, String pool) {
    client.configMaps().inNamespace(namespace).withLabel(Names.POOL_LABEL, pool).delete();
  }

  /**
   * Whether {@code pool}'s status says every shard of its ledger is held: none lost, or all
   * rebuilt.
   */
  public static boolean complete(KubernetesClient client, String pool) {
    var status = client.resources(CapacityPool.class).withName(pool).get().getStatus();
    return status != null
        && status.conditions() != null
        && status.conditions().stream()
            .anyMatch(c -> "LedgerComplete".equals(c.getType()) && "True".equals(c.getStatus()));
  }
}
