package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A certificate renewed behind a running replica's back (as another replica would) is picked up:
 * the replica serves the new certificate, the webhook configuration trusts the new CA, and the API
 * server keeps calling the webhook without a failed call.
 */
@ExtendWith(LocalCluster.class)
class CertificateRotationIT {
  private static final String NAMESPACE = "nimbus-rotation";
  private static final String CONFIGURATION = "nimbus-rotation";

  @Test
  void aRenewedCertificateIsServedAndTrusted(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    client.secrets().inNamespace(NAMESPACE).withName("nimbus-webhook-tls").delete();
    try (OperatorProcess operator =
        OperatorProcess.start(
            "rotation-operator",
            Map.of(
                "quarkus.http.port", "0",
                "nimbus.namespace", NAMESPACE,
                "nimbus.leader-election.enabled", "false",
                "nimbus.webhook.host", "127.0.0.1",
                "nimbus.webhook.port", "19643",
                "nimbus.webhook.url", "https://127.0.0.1:19643",
                "nimbus.webhook.extra-hosts", "127.0.0.1",
                "nimbus.webhook.configuration-name", CONFIGURATION,
                "nimbus.webhook.certificate-check-interval", "PT2S"))) {
      awaitWebhookAnswers(client, namespace);
      String firstCa = caBundle(client);

      ServingCertificate renewed =
          ServingCertificate.issue("nimbus-webhook", List.of("127.0.0.1"), Duration.ofDays(365));
      var secret = client.secrets().inNamespace(NAMESPACE).withName("nimbus-webhook-tls").get();
      client
          .secrets()
          .inNamespace(NAMESPACE)
          .resource(
              new SecretBuilder(secret)
                  .withData(
                      Map.of(
                          "tls.crt", encode(renewed.certificatePem()),
                          "tls.key", encode(renewed.privateKeyPem()),
                          "ca.crt", encode(renewed.caPem())))
                  .build())
          .update();
      String renewedCa = encode(renewed.caPem());

      operator.awaitLogLine("Now serving the renewed webhook certificate", Duration.ofSeconds(30));
      assertThat(caBundle(client)).isNotEqualTo(firstCa).isEqualTo(renewedCa);
      awaitWebhookAnswers(client, namespace);
    } finally {
      client
          .admissionRegistration()
          .v1()
          .validatingWebhookConfigurations()
          .withName(CONFIGURATION)
          .delete();
    }
  }

  private static String caBundle(KubernetesClient client) {
    return client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName(CONFIGURATION)
        .get()
        .getWebhooks()
        .get(0)
        .getClientConfig()
        .getCaBundle();
  }

  /**
   * Waits until a dry run reaches the webhook and comes back with its own refusal (the instance
   * type does not exist), not a TLS failure of the call.
   */
  private static void awaitWebhookAnswers(KubernetesClient client, TestNamespace namespace)
      throws InterruptedException {
    VirtualServer probe = new VirtualServer();
    probe.setMetadata(
        new ObjectMetaBuilder().withName("probe").withNamespace(namespace.name()).build());
    probe.setSpec(
        new VirtualServerSpec("x", "rotation.absent", 1, 1, null, null, null, null, true, false));
    String last = "";
    for (int i = 0; i < 100; i++) {
      try {
        client.resource(probe).dryRun().create();
      } catch (KubernetesClientException e) {
        last = e.getMessage();
        if (last.contains("InstanceType \"rotation.absent\" does not exist")) {
          return;
        }
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the webhook never answered; last error: " + last);
  }

  private static String encode(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
  }
}
