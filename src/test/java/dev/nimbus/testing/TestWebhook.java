package dev.nimbus.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.nimbus.webhook.CertificateAuthority;
import dev.nimbus.webhook.ServingCertificate;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * A validating webhook served over TLS by the test JVM, which the API server calls for CREATE (or
 * the operations given) of one resource in one namespace. It denies, with {@link #MESSAGE}, every
 * object labelled {@code deny: "true"}, and allows the rest.
 */
public final class TestWebhook implements AutoCloseable {
  public static final String MESSAGE = "denied by the test webhook: label deny=true";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final KubernetesClient client;
  private final HttpsServer server;
  private final ValidatingWebhookConfiguration configuration;
  private final AtomicInteger calls = new AtomicInteger();

  /** Registers a webhook for creates of {@code resource} of {@code group/version}. */
  public TestWebhook(
      KubernetesClient client, String namespace, String group, String version, String resource)
      throws IOException, GeneralSecurityException {
    this(client, namespace, group, version, resource, "CREATE");
  }

  /**
   * Registers a webhook for {@code operations} on {@code resource} of {@code group/version} in
   * {@code namespace}.
   */
  public TestWebhook(
      KubernetesClient client,
      String namespace,
      String group,
      String version,
      String resource,
      String... operations)
      throws IOException, GeneralSecurityException {
    this.client = client;
    ServingCertificate certificate =
        ServingCertificate.issue(
            CertificateAuthority.issue("test-webhook", Duration.ofHours(1)),
            "test-webhook",
            List.of("127.0.0.1"),
            Duration.ofHours(1));
    server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(sslContext(certificate)));
    server.createContext(
        "/validate",
        exchange -> {
          calls.incrementAndGet();
          JsonNode request = JSON.readTree(exchange.getRequestBody()).get("request");
          boolean deny = request.at("/object/metadata/labels/deny").asText().equals("true");
          var status =
              JSON.createObjectNode().put("code", deny ? 403 : 200).put("message", MESSAGE);
          var response =
              JSON.createObjectNode()
                  .put("uid", request.get("uid").asText())
                  .put("allowed", !deny)
                  .set("status", status);
          var review =
              JSON.createObjectNode()
                  .put("apiVersion", "admission.k8s.io/v1")
                  .put("kind", "AdmissionReview")
                  .set("response", response);
          byte[] body = JSON.writeValueAsBytes(review);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
    configuration =
        client
            .admissionRegistration()
            .v1()
            .validatingWebhookConfigurations()
            .resource(
                new ValidatingWebhookConfigurationBuilder()
                    .withNewMetadata()
                    .withName("test-webhook-" + namespace)
                    .endMetadata()
                    .addNewWebhook()
                    .withName("test.webhook.nimbus.dev")
                    .withAdmissionReviewVersions("v1")
                    .withSideEffects("None")
                    .withFailurePolicy("Fail")
                    .withTimeoutSeconds(5)
                    .withNewNamespaceSelector()
                    .addToMatchLabels("kubernetes.io/metadata.name", namespace)
                    .endNamespaceSelector()
                    .addNewRule()
                    .withApiGroups(group)
                    .withApiVersions(version)
                    .withResources(resource)
                    .withOperations(operations)
                    .endRule()
                    .withNewClientConfig()
                    .withUrl("https://127.0.0.1:" + server.getAddress().getPort() + "/validate")
                    .withCaBundle(
                        Base64.getEncoder()
                            .encodeToString(
                                certificate.caPem().getBytes(StandardCharsets.US_ASCII)))
                    .endClientConfig()
                    .endWebhook()
                    .build())
            .create();
  }

  /** How often the API server has called this webhook. */
  public int calls() {
    return calls.get();
  }

  @Override
  public void close() {
    client.resource(configuration).delete();
    server.stop(0);
  }

  private static SSLContext sslContext(ServingCertificate certificate)
      throws GeneralSecurityException {
    char[] password = "test-webhook".toCharArray();
    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keys.init(certificate.keyStore("serving", password), password);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keys.getKeyManagers(), null, null);
    return context;
  }
}
