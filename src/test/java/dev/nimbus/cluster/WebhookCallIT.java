package dev.nimbus.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import dev.nimbus.testing.TestWebhook;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The API server calls a validating webhook served over TLS by this JVM, trusting it through the
 * configuration's caBundle, and the webhook's denial reaches the client.
 */
@ExtendWith(LocalCluster.class)
class WebhookCallIT {
  @Test
  void apiServerCallsTheWebhookAndTheDenialReachesTheClient(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    try (TestWebhook webhook = new TestWebhook(client, namespace.name(), "", "v1", "configmaps")) {
      awaitActive(client, namespace);

      client
          .configMaps()
          .inNamespace(namespace.name())
          .resource(configMap("allowed", false))
          .create();
      assertThatThrownBy(
              () ->
                  client
                      .configMaps()
                      .inNamespace(namespace.name())
                      .resource(configMap("refused", true))
                      .create())
          .isInstanceOfSatisfying(
              KubernetesClientException.class,
              e -> {
                assertThat(e.getCode()).isEqualTo(403);
                assertThat(e.getMessage()).contains(TestWebhook.MESSAGE);
              });
      assertThat(webhook.calls()).isGreaterThanOrEqualTo(2);
      assertThat(client.configMaps().inNamespace(namespace.name()).withName("allowed").get())
          .isNotNull();
      assertThat(client.configMaps().inNamespace(namespace.name()).withName("refused").get())
          .isNull();
    }
  }

  /** The API server picks up a new webhook configuration within moments; wait until it calls. */
  private static void awaitActive(KubernetesClient client, TestNamespace namespace)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      try {
        client
            .configMaps()
            .inNamespace(namespace.name())
            .resource(configMap("probe", true))
            .dryRun()
            .create();
      } catch (KubernetesClientException e) {
        if (e.getCode() == 403) {
          return;
        }
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the API server never called the webhook");
  }

  private static ConfigMap configMap(String name, boolean deny) {
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("deny", Boolean.toString(deny))
        .endMetadata()
        .build();
  }
}
