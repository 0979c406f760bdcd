package dev.nimbus.ledger;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;

/**
 * The ledgers as ConfigMaps {@code nimbus-ledger-<pool>} in the operator's namespace, labelled with
 * their pool. A write sends the resourceVersion that was read; the API server refuses it with 409
 * Conflict if anyone wrote in between. That refusal is the compare-and-swap.
 */
@ApplicationScoped
public class ConfigMapLedgerStorage implements LedgerStorage {
  private final KubernetesClient client;
  private final NimbusConfig config;

  public ConfigMapLedgerStorage(KubernetesClient client, NimbusConfig config) {
    // A commit reads and writes once per attempt within the decision timeout: each call gets half
    // of it, and is not retried by the client (the commit retries, and knows its deadline).
    int perCall = (int) (config.ledger().decisionTimeout().toMillis() / 2);
    this.client =
        client
            .newClient(
                new RequestConfigBuilder()
                    .withRequestTimeout(perCall)
                    .withRequestRetryBackoffLimit(0)
                    .build())
            .adapt(KubernetesClient.class);
    this.config = config;
  }

  @Override
  public Versioned read(String pool) {
    ConfigMap map =
        client.configMaps().inNamespace(config.namespace()).withName(Names.ledger(pool)).get();
    return map == null
        ? null
        : new Versioned(map.getMetadata().getResourceVersion(), document(map));
  }

  /** The document a ledger ConfigMap holds; empty when it holds none. */
  static String document(ConfigMap map) {
    String data = map.getData() == null ? null : map.getData().get(Names.LEDGER_KEY);
    return data == null ? "" : data;
  }

  @Override
  public boolean write(String pool, Versioned current, String document) {
    ConfigMap next =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName(Names.ledger(pool))
            .withNamespace(config.namespace())
            .withResourceVersion(current == null ? null : current.version())
            .addToLabels(Names.MANAGED_BY, "nimbus")
            .addToLabels(Names.POOL_LABEL, pool)
            .endMetadata()
            .withData(Map.of(Names.LEDGER_KEY, document))
            .build();
    var maps = client.configMaps().inNamespace(config.namespace());
    try {
      if (current == null) {
        maps.resource(next).create();
      } else {
        maps.resource(next).update();
      }
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return false; // written (or created) by someone else since it was read
      }
      throw e;
    }
  }
}
