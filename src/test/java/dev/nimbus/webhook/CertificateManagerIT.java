package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The serving certificate in its shared Secret: issued once, kept, renewed before it expires. */
@ExtendWith(LocalCluster.class)
class CertificateManagerIT {
  private static final Duration VALIDITY = Duration.ofDays(365);

  @Test
  void issuesOnceAndKeepsIt(KubernetesClient client, TestNamespace namespace) {
    CertificateManager manager = new CertificateManager(client, config(namespace.name()));

    CertificateManager.Pems first = manager.ensure();
    CertificateManager.Pems second = manager.ensure();

    assertThat(second).isEqualTo(first);
    assertThat(first.notAfter()).isAfter(Instant.now().plus(VALIDITY).minus(Duration.ofDays(1)));
    var secret = client.secrets().inNamespace(namespace.name()).withName("webhook-tls").get();
    assertThat(secret.getType()).isEqualTo("kubernetes.io/tls");
    assertThat(decode(secret.getData().get("ca.crt"))).isEqualTo(first.ca());
  }

  @Test
  void renewsACertificateNearItsEnd(KubernetesClient client, TestNamespace namespace) {
    ServingCertificate expiring =
        ServingCertificate.issue(
            CertificateAuthority.issue("nimbus-webhook", Duration.ofDays(10)),
            "nimbus-webhook",
            List.of("nimbus-webhook"),
            Duration.ofDays(10));
    client
        .secrets()
        .inNamespace(namespace.name())
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("webhook-tls")
                .endMetadata()
                .withType("kubernetes.io/tls")
                .withData(
                    Map.of(
                        "tls.crt", encode(expiring.certificatePem()),
                        "tls.key", encode(expiring.privateKeyPem()),
                        "ca.crt", encode(expiring.caPem())))
                .build())
        .create();

    CertificateManager.Pems renewed =
        new CertificateManager(client, config(namespace.name())).ensure();

    assertThat(renewed.ca()).isNotEqualTo(expiring.caPem());
    assertThat(renewed.notAfter()).isAfter(Instant.now().plus(Duration.ofDays(300)));
    var secret = client.secrets().inNamespace(namespace.name()).withName("webhook-tls").get();
    assertThat(decode(secret.getData().get("tls.crt"))).isEqualTo(renewed.certificate());
  }

  /**
   * A serving certificate is renewed under the same CA: the bundle the API server trusts does not
   * change, so a replica still serving the old certificate is trusted as much as one serving the
   * new.
   */
  @Test
  void aRenewedServingCertificateKeepsItsCaAndTheBundle(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    var operator = NimbusConfig.Webhook.CertificateIssuer.OPERATOR;
    CertificateManager.Pems first =
        new CertificateManager(
                client, config(namespace.name(), operator, Duration.ofDays(1), VALIDITY))
            .ensure();

    // Issued for 10 days, a certificate with one day left is due.
    CertificateManager.Pems renewed =
        new CertificateManager(
                client, config(namespace.name(), operator, Duration.ofDays(10), VALIDITY))
            .ensure();

    assertThat(renewed.certificate()).isNotEqualTo(first.certificate());
    assertThat(renewed.ca()).isEqualTo(first.ca());
    certificate(renewed.certificate()).verify(certificate(first.ca()).getPublicKey());
    certificate(first.certificate()).verify(certificate(renewed.ca()).getPublicKey());
  }

  /**
   * A CA near its end is renewed, and the bundle holds the new CA first and the old one after it
   * while the old one is valid: certificates of both are trusted while replicas pick up the new
   * one.
   */
  @Test
  void aCaNearItsEndIsRenewedAndTheOldOneStaysInTheBundle(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    var operator = NimbusConfig.Webhook.CertificateIssuer.OPERATOR;
    CertificateManager.Pems first =
        new CertificateManager(
                client,
                config(namespace.name(), operator, Duration.ofHours(12), Duration.ofDays(1)))
            .ensure();

    CertificateManager.Pems renewed =
        new CertificateManager(
                client,
                config(namespace.name(), operator, Duration.ofHours(12), Duration.ofDays(10)))
            .ensure();

    assertThat(renewed.ca()).isNotEqualTo(first.ca()).contains(first.ca().strip());
    assertThat(renewed.ca().indexOf(first.ca().strip())).isPositive();
    certificate(renewed.certificate()).verify(certificate(renewed.ca()).getPublicKey());
  }

  private static X509Certificate certificate(String pem) throws Exception {
    return (X509Certificate)
        CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
  }

  @Test
  void withCertManagerTheOperatorServesTheIssuedSecretEvenNearItsEndAndNeverWritesIt(
      KubernetesClient client, TestNamespace namespace) {
    // What cert-manager writes for a Certificate: a kubernetes.io/tls Secret with the CA.
    ServingCertificate issued =
        ServingCertificate.issue(
            CertificateAuthority.issue("nimbus-webhook", Duration.ofDays(10)),
            "nimbus-webhook",
            List.of("nimbus-webhook"),
            Duration.ofDays(10));
    var stored =
        client
            .secrets()
            .inNamespace(namespace.name())
            .resource(
                new SecretBuilder()
                    .withNewMetadata()
                    .withName("webhook-tls")
                    .endMetadata()
                    .withType("kubernetes.io/tls")
                    .withData(
                        Map.of(
                            "tls.crt", encode(issued.certificatePem()),
                            "tls.key", encode(issued.privateKeyPem()),
                            "ca.crt", encode(issued.caPem())))
                    .build())
            .create();

    CertificateManager.Pems served =
        new CertificateManager(
                client,
                config(namespace.name(), NimbusConfig.Webhook.CertificateIssuer.CERT_MANAGER))
            .ensure();

    assertThat(served.certificate()).isEqualTo(issued.certificatePem());
    assertThat(
            client
                .secrets()
                .inNamespace(namespace.name())
                .withName("webhook-tls")
                .get()
                .getMetadata()
                .getResourceVersion())
        .as("cert-manager renews it, not the operator")
        .isEqualTo(stored.getMetadata().getResourceVersion());
  }

  @Test
  void replicasRacingForAMissingCertificateEndUpWithTheSameOne(
      KubernetesClient client, TestNamespace namespace) {
    var one =
        CompletableFuture.supplyAsync(
            () -> new CertificateManager(client, config(namespace.name())).ensure());
    var two =
        CompletableFuture.supplyAsync(
            () -> new CertificateManager(client, config(namespace.name())).ensure());
    CertificateManager.Pems first = one.join();
    CertificateManager.Pems second = two.join();
    CertificateManager.Pems stored =
        new CertificateManager(client, config(namespace.name())).ensure();

    assertThat(first).as("the loser of the race serves what the winner wrote").isEqualTo(stored);
    assertThat(second).isEqualTo(stored);
  }

  private static String encode(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
  }

  private static String decode(String base64) {
    return new String(Base64.getDecoder().decode(base64), StandardCharsets.US_ASCII);
  }

  /** The configuration a replica in {@code namespace} would have. */
  private static NimbusConfig config(String namespace) {
    return config(namespace, NimbusConfig.Webhook.CertificateIssuer.OPERATOR);
  }

  private static NimbusConfig config(
      String namespace, NimbusConfig.Webhook.CertificateIssuer issuer) {
    return config(namespace, issuer, VALIDITY, Duration.ofDays(3650));
  }

  private static NimbusConfig config(
      String namespace,
      NimbusConfig.Webhook.CertificateIssuer issuer,
      Duration validity,
      Duration caValidity) {
    NimbusConfig.Webhook webhook =
        new NimbusConfig.Webhook() {
          public int port() {
            return 9443;
          }

          public String host() {
            return "127.0.0.1";
          }

          public String configurationName() {
            return "unused";
          }

          public String serviceName() {
            return "nimbus-webhook";
          }

          public String secretName() {
            return "webhook-tls";
          }

          public Optional<List<String>> extraHosts() {
            return Optional.of(List.of("127.0.0.1"));
          }

          public Optional<String> url() {
            return Optional.empty();
          }

          public Optional<String> clientCaFile() {
            return Optional.empty();
          }

          public CertificateIssuer certificateIssuer() {
            return issuer;
          }

          public Duration certificateValidity() {
            return validity;
          }

          public Duration caValidity() {
            return caValidity;
          }

          public Duration certificateCheckInterval() {
            return Duration.ofMinutes(10);
          }
        };
    return new NimbusConfig() {
      public String namespace() {
        return namespace;
      }

      public Optional<Set<String>> watchNamespaces() {
        return Optional.empty();
      }

      public Webhook webhook() {
        return webhook;
      }

      public Ledger ledger() {
        throw new UnsupportedOperationException();
      }

      public LeaderElection leaderElection() {
        throw new UnsupportedOperationException();
      }

      public Aws aws() {
        throw new UnsupportedOperationException();
      }
    };
  }
}
