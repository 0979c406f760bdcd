package dev.nimbus.bench;

import dev.nimbus.webhook.CertificateAuthority;
import dev.nimbus.webhook.ServingCertificate;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A validating webhook that allows everything, served like Nimbus' (Vert.x, TLS, on loopback) and
 * registered like it, for the VirtualServer creates of one namespace: what any webhook costs here,
 * the baseline the benchmark holds Nimbus' decisions against.
 */
final class NoOpWebhook implements AutoCloseable {
  private final KubernetesClient client;
  private final Vertx vertx = Vertx.vertx();
  private final HttpServer server;
  static final String NAME = "noop.bench.nimbus.dev";
  private final String name;

  NoOpWebhook(KubernetesClient client, String namespace) throws Exception {
    this.client = client;
    this.name = "noop-" + namespace;
    ServingCertificate certificate =
        ServingCertificate.issue(
            CertificateAuthority.issue("noop-webhook", Duration.ofHours(1)),
            "noop-webhook",
            List.of("127.0.0.1"),
            Duration.ofHours(1));
    server =
        vertx
            .createHttpServer(
                new HttpServerOptions()
                    .setSsl(true)
                    .setHost("127.0.0.1")
                    .setPort(0)
                    .setKeyCertOptions(
                        new PemKeyCertOptions()
                            .addCertValue(
                                Buffer.buffer(certificate.certificatePem() + certificate.caPem()))
                            .addKeyValue(Buffer.buffer(certificate.privateKeyPem()))))
            .requestHandler(
                request ->
                    request.body(
                        body -> {
                          String uid =
                              body.result()
                                  .toJsonObject()
                                  .getJsonObject("request")
                                  .getString("uid");
                          JsonObject review =
                              new JsonObject()
                                  .put("apiVersion", "admission.k8s.io/v1")
                                  .put("kind", "AdmissionReview")
                                  .put(
                                      "response",
                                      new JsonObject().put("uid", uid).put("allowed", true));
                          request
                              .response()
                              .putHeader("Content-Type", "application/json")
                              .end(review.encode());
                        }))
            .listen()
            .toCompletionStage()
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
    client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .resource(
            new ValidatingWebhookConfigurationBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .addNewWebhook()
                .withName(NAME)
                .withAdmissionReviewVersions("v1")
                .withSideEffects("None")
                .withFailurePolicy("Fail")
                .withTimeoutSeconds(10)
                .withNewNamespaceSelector()
                .addToMatchLabels("kubernetes.io/metadata.name", namespace)
                .endNamespaceSelector()
                .addNewRule()
                .withApiGroups("compute.nimbus.dev")
                .withApiVersions("v1alpha1")
                .withResources("virtualservers")
                .withOperations("CREATE")
                .endRule()
                .withNewClientConfig()
                .withUrl("https://127.0.0.1:" + server.actualPort() + "/validate")
                .withCaBundle(
                    Base64.getEncoder()
                        .encodeToString(certificate.caPem().getBytes(StandardCharsets.US_ASCII)))
                .endClientConfig()
                .endWebhook()
                .build())
        .serverSideApply();
  }

  @Override
  public void close() {
    client.admissionRegistration().v1().validatingWebhookConfigurations().withName(name).delete();
    vertx.close();
  }
}
