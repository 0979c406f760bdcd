package dev.nimbus.webhook;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Keeps the webhook's serving certificate in a Secret that every replica shares: the first replica
 * to find it missing (or within a third of its life from expiry) issues a new one, and a replica
 * that loses that race reads the winner's. The Secret is written with its resourceVersion, so two
 * replicas never both rotate it.
 */
@ApplicationScoped
public class CertificateManager {
  private static final Logger LOG = Logger.getLogger(CertificateManager.class);

  /**
   * The PEM texts a TLS server and the API server need: the serving certificate and its key, and
   * the CA bundle the API server is to trust (the signing CA first, then any older CA still valid).
   */
  public record Pems(String certificate, String privateKey, String ca, Instant notAfter) {
    /** The serving certificate and key as a Vert.x server takes them. */
    public io.vertx.core.net.PemKeyCertOptions keyCertOptions() {
      return new io.vertx.core.net.PemKeyCertOptions()
          .addCertValue(io.vertx.core.buffer.Buffer.buffer(certificate))
          .addKeyValue(io.vertx.core.buffer.Buffer.buffer(privateKey));
    }
  }

  static final Duration CERT_MANAGER_WAIT = Duration.ofMinutes(2);

  /**
   * The Secret's key of the CA's private key; {@code ca.crt} holds the bundle, signing CA first.
   */
  static final String CA_KEY = "ca.key";

  private final KubernetesClient client;
  private final NimbusConfig config;

  public CertificateManager(KubernetesClient client, NimbusConfig config) {
    this.client = client;
    this.config = config;
  }

  /** The current certificate, issuing or renewing it first if needed. */
  public Pems ensure() {
    if (client.namespaces().withName(config.namespace()).get() == null) {
      throw new IllegalStateException(
          "the operator's namespace \""
              + config.namespace()
              + "\" does not exist: create it, or set nimbus.namespace to the namespace the"
              + " operator runs in");
    }
    if (config.webhook().certificateIssuer()
        == NimbusConfig.Webhook.CertificateIssuer.CERT_MANAGER) {
      return issuedByCertManager();
    }
    for (int attempt = 0; attempt < 5; attempt++) {
      Secret secret =
          client
              .secrets()
              .inNamespace(config.namespace())
              .withName(config.webhook().secretName())
              .get();
      Pems current = secret == null ? null : read(secret);
      Optional<CertificateAuthority> held = secret == null ? Optional.empty() : authority(secret);
      CertificateAuthority ca =
          held.filter(c -> !due(c.notAfter(), config.webhook().caValidity()))
              .orElseGet(
                  () ->
                      CertificateAuthority.issue(
                          config.webhook().serviceName(), config.webhook().caValidity()));
      boolean newCa = held.isEmpty() || held.get() != ca;
      if (current != null
          && !newCa
          && signedBy(current, ca)
          && !due(current.notAfter(), config.webhook().certificateValidity())) {
        return current;
      }
      ServingCertificate issued =
          ServingCertificate.issue(
              ca, config.webhook().serviceName(), hosts(), config.webhook().certificateValidity());
      // A new CA joins the bundle beside the ones still valid: a replica serving a certificate of
      // the old CA stays trusted until it picks up the new one.
      String bundle =
          newCa
              ? bundle(ca.certificatePem(), current == null ? "" : current.ca())
              : current == null ? ca.certificatePem() : current.ca();
      Pems pems =
          new Pems(issued.certificatePem(), issued.privateKeyPem(), bundle, issued.notAfter());
      try {
        write(secret, pems, ca);
        LOG.infof(
            "%s webhook serving certificate in Secret %s/%s, valid until %s%s",
            secret == null ? "Issued" : "Renewed",
            config.namespace(),
            config.webhook().secretName(),
            pems.notAfter(),
            newCa ? ", signed by a new CA valid until " + ca.notAfter() : "");
        return pems;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        // Another replica wrote first: use what it wrote.
      }
    }
    throw new IllegalStateException("could not settle the webhook certificate after 5 attempts");
  }

  /**
   * The certificate that cert-manager keeps in the Secret, waiting for its first issue: the
   * operator never writes it, and cert-manager renews it in place.
   */
  private Pems issuedByCertManager() {
    long deadline = System.nanoTime() + CERT_MANAGER_WAIT.toNanos();
    while (true) {
      Secret secret =
          client
              .secrets()
              .inNamespace(config.namespace())
              .withName(config.webhook().secretName())
              .get();
      Pems pems = secret == null ? null : read(secret);
      if (pems != null) {
        return pems;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "Secret "
                + config.namespace()
                + "/"
                + config.webhook().secretName()
                + " holds no certificate after "
                + CERT_MANAGER_WAIT.toSeconds()
                + " s: is cert-manager installed, and is the Certificate of the chart Ready?"
                + " (kubectl describe certificate -n "
                + config.namespace()
                + ")");
      }
      try {
        Thread.sleep(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for cert-manager", e);
      }
    }
  }

  /** Whether what is valid until {@code notAfter}, issued for {@code validity}, is to renew. */
  private static boolean due(Instant notAfter, Duration validity) {
    return Duration.between(Instant.now(), notAfter).compareTo(validity.dividedBy(3)) < 0;
  }

  private static boolean signedBy(Pems pems, CertificateAuthority ca) {
    try {
      certificate(pems.certificate()).verify(ca.certificate().getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** {@code first}, then every certificate of {@code others} that is still valid and not it. */
  private static String bundle(String first, String others) {
    StringBuilder bundle = new StringBuilder(first);
    for (String trimmed : certificates(others)) {
      if (trimmed.equals(first.strip())) {
        continue;
      }
      try {
        certificate(trimmed).checkValidity();
        bundle.append(bundle.toString().endsWith("\n") ? "" : "\n").append(trimmed).append('\n');
      } catch (GeneralSecurityException e) {
        // Expired, or not a certificate: the bundle drops it.
      }
    }
    return bundle.toString();
  }

  private static X509Certificate certificate(String pem) throws CertificateException {
    return (X509Certificate)
        CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
  }

  /** The CA the Secret keeps (written by this version of Nimbus), if it holds one. */
  private static Optional<CertificateAuthority> authority(Secret secret) {
    Map<String, String> data = secret.getData();
    if (data == null || !data.containsKey(CA_KEY) || !data.containsKey("ca.crt")) {
      return Optional.empty();
    }
    // The bundle's first certificate is the CA that signs.
    return certificates(decode(data.get("ca.crt"))).stream()
        .findFirst()
        .flatMap(first -> CertificateAuthority.read(first, decode(data.get(CA_KEY))));
  }

  /** The PEM certificates of a bundle, in order, each stripped. */
  private static List<String> certificates(String bundle) {
    return Arrays.stream(bundle.split("(?<=-----END CERTIFICATE-----)"))
        .map(String::strip)
        .filter(pem -> !pem.isEmpty())
        .toList();
  }

  private List<String> hosts() {
    String service = config.webhook().serviceName();
    String namespace = config.namespace();
    List<String> hosts =
        new ArrayList<>(
            List.of(
                service,
                service + "." + namespace,
                service + "." + namespace + ".svc",
                service + "." + namespace + ".svc.cluster.local"));
    config.webhook().extraHosts().ifPresent(hosts::addAll);
    return hosts;
  }

  private void write(Secret existing, Pems pems, CertificateAuthority ca) {
    Map<String, String> data =
        Map.of(
            "tls.crt",
            encode(pems.certificate()),
            "tls.key",
            encode(pems.privateKey()),
            "ca.crt",
            encode(pems.ca()),
            CA_KEY,
            encode(ca.keyPem()));
    if (existing == null) {
      client
          .secrets()
          .inNamespace(config.namespace())
          .resource(
              new SecretBuilder()
                  .withNewMetadata()
                  .withName(config.webhook().secretName())
                  .withNamespace(config.namespace())
                  .addToLabels(Names.MANAGED_BY, "nimbus")
                  .endMetadata()
                  .withType("kubernetes.io/tls")
                  .withData(data)
                  .build())
          .create();
    } else {
      client
          .secrets()
          .inNamespace(config.namespace())
          .resource(new SecretBuilder(existing).withData(data).build())
          .update();
    }
  }

  private static Pems read(Secret secret) {
    Map<String, String> data = secret.getData();
    if (data == null
        || !data.containsKey("tls.crt")
        || !data.containsKey("tls.key")
        || !data.containsKey("ca.crt")) {
      return null;
    }
    String certificate = decode(data.get("tls.crt"));
    try {
      X509Certificate parsed = certificate(certificate);
      return new Pems(
          certificate,
          decode(data.get("tls.key")),
          decode(data.get("ca.crt")),
          parsed.getNotAfter().toInstant());
    } catch (CertificateException e) {
      LOG.warnf(
          "Secret %s holds no readable certificate; issuing a new one",
          secret.getMetadata().getName());
      return null;
    }
  }

  private static String encode(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
  }

  private static String decode(String base64) {
    return new String(Base64.getDecoder().decode(base64), StandardCharsets.US_ASCII);
  }
}
