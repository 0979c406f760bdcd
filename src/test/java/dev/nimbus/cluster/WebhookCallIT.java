package dev.nimbus.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import dev.nimbus.webhook.ServingCertificate;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The API server calls a validating webhook served over TLS by this JVM, trusting it through the
 * configuration's caBundle, and the webhook's denial reaches the client.
 */
@ExtendWith(LocalCluster.class)
class WebhookCallIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void apiServerCallsTheWebhookAndTheDenialReachesTheClient(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    ServingCertificate certificate =
        ServingCertificate.issue(
            "webhook-it", List.of("127.0.0.1", "localhost"), Duration.ofHours(1));
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(sslContext(certificate)));
    server.createContext(
        "/validate",
        exchange -> {
          calls.incrementAndGet();
          JsonNode review = JSON.readTree(exchange.getRequestBody());
          JsonNode request = review.get("request");
          boolean deny = request.at("/object/metadata/labels/deny").asText().equals("true");
          String response =
              JSON.writeValueAsString(
                  JSON.createObjectNode()
                      .put("apiVersion", "admission.k8s.io/v1")
                      .put("kind", "AdmissionReview")
                      .set(
                          "response",
                          JSON.createObjectNode()
                              .put("uid", request.get("uid").asText())
                              .put("allowed", !deny)
                              .set(
                                  "status",
                                  JSON.createObjectNode()
                                      .put("code", deny ? 403 : 200)
                                      .put(
                                          "message",
                                          "denied by the test webhook: label deny=true"))));
          byte[] body = response.getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
    ValidatingWebhookConfiguration configuration =
        client
            .admissionRegistration()
            .v1()
            .validatingWebhookConfigurations()
            .resource(configuration(namespace, certificate, server.getAddress().getPort()))
            .create();
    try {
      awaitWebhookActive(client, namespace);

      client
          .configMaps()
          .inNamespace(namespace.name())
          .resource(
              new ConfigMapBuilder().withNewMetadata().withName("allowed").endMetadata().build())
          .create();
      assertThatThrownBy(
              () ->
                  client
                      .configMaps()
                      .inNamespace(namespace.name())
                      .resource(
                          new ConfigMapBuilder()
                              .withNewMetadata()
                              .withName("refused")
                              .addToLabels("deny", "true")
                              .endMetadata()
                              .build())
                      .create())
          .isInstanceOfSatisfying(
              KubernetesClientException.class,
              e -> {
                assertThat(e.getCode()).isEqualTo(403);
                assertThat(e.getMessage()).contains("denied by the test webhook: label deny=true");
              });
      assertThat(calls.get()).isGreaterThanOrEqualTo(2);
      assertThat(client.configMaps().inNamespace(namespace.name()).withName("refused").get())
          .isNull();
    } finally {
      client.resource(configuration).delete();
      server.stop(0);
    }
  }

  /** The API server picks up a new webhook configuration within moments; wait until it calls. */
  private static void awaitWebhookActive(KubernetesClient client, TestNamespace namespace)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      try {
        client
            .configMaps()
            .inNamespace(namespace.name())
            .resource(
                new ConfigMapBuilder()
                    .withNewMetadata()
                    .withName("probe")
                    .addToLabels("deny", "true")
                    .endMetadata()
                    .build())
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

  private static ValidatingWebhookConfiguration configuration(
      TestNamespace namespace, ServingCertificate certificate, int port) {
    return new ValidatingWebhookConfigurationBuilder()
        .withNewMetadata()
        .withName("webhook-it-" + namespace.name())
        .endMetadata()
        .addNewWebhook()
        .withName("configmaps.webhook-it.nimbus.dev")
        .withAdmissionReviewVersions("v1")
        .withSideEffects("None")
        .withFailurePolicy("Fail")
        .withTimeoutSeconds(5)
        .withNewNamespaceSelector()
        .addToMatchLabels("kubernetes.io/metadata.name", namespace.name())
        .endNamespaceSelector()
        .addNewRule()
        .withApiGroups("")
        .withApiVersions("v1")
        .withResources("configmaps")
        .withOperations("CREATE")
        .endRule()
        .withNewClientConfig()
        .withUrl("https://127.0.0.1:" + port + "/validate")
        .withCaBundle(
            Base64.getEncoder()
                .encodeToString(certificate.caPem().getBytes(StandardCharsets.US_ASCII)))
        .endClientConfig()
        .endWebhook()
        .build();
  }

  private static SSLContext sslContext(ServingCertificate certificate) throws Exception {
    char[] password = "webhook-it".toCharArray();
    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keys.init(certificate.keyStore("serving", password), password);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keys.getKeyManagers(), null, null);
    return context;
  }
}
