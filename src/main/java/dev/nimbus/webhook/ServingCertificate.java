package dev.nimbus.webhook;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;

/**
 * A TLS serving certificate for the admission webhook, with the certificate of the CA that signed
 * it. The API server trusts the CA through the webhook configuration's caBundle, so no cluster-wide
 * PKI is needed.
 */
public record ServingCertificate(
    X509Certificate caCertificate, X509Certificate certificate, PrivateKey privateKey) {

  /**
   * Issues a certificate signed by {@code ca}, valid for {@code validity} (never past the CA), for
   * the given DNS names and IP addresses (entries that parse as an IP literal become IP subject
   * alternative names).
   */
  public static ServingCertificate issue(
      CertificateAuthority ca, String commonName, List<String> hosts, Duration validity) {
    try {
      KeyPair keys = CertificateAuthority.newKeyPair();
      Instant now = Instant.now();
      Instant end = now.plus(validity);
      X509v3CertificateBuilder leaf =
          new JcaX509v3CertificateBuilder(
              ca.name(),
              CertificateAuthority.serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(end.isAfter(ca.notAfter()) ? ca.notAfter() : end),
              new X500Name("CN=" + commonName),
              keys.getPublic());
      leaf.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      leaf.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      leaf.addExtension(
          Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      leaf.addExtension(Extension.subjectAlternativeName, false, subjectAlternativeNames(hosts));
      return new ServingCertificate(ca.certificate(), ca.sign(leaf), keys.getPrivate());
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot issue a serving certificate", e);
    }
  }

  /** The CA certificate in PEM, as a webhook configuration's caBundle holds it (base64 of it). */
  public String caPem() {
    return CertificateAuthority.pem(caCertificate);
  }

  public String certificatePem() {
    return CertificateAuthority.pem(certificate);
  }

  /** The key in PKCS#8 PEM ("BEGIN PRIVATE KEY"), which every TLS stack reads. */
  public String privateKeyPem() {
    return CertificateAuthority.pem(privateKey);
  }

  /** When the serving certificate stops being valid. */
  public Instant notAfter() {
    return certificate.getNotAfter().toInstant();
  }

  /** A PKCS12 key store holding the key and the certificate chain, under {@code alias}. */
  public KeyStore keyStore(String alias, char[] password) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry(
          alias, privateKey, password, new X509Certificate[] {certificate, caCertificate});
      return store;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot build a key store", e);
    }
  }

  private static GeneralNames subjectAlternativeNames(List<String> hosts) {
    List<GeneralName> names = new ArrayList<>();
    for (String host : hosts) {
      names.add(
          isIpLiteral(host)
              ? new GeneralName(GeneralName.iPAddress, host)
              : new GeneralName(GeneralName.dNSName, host));
    }
    return new GeneralNames(names.toArray(GeneralName[]::new));
  }

  private static boolean isIpLiteral(String host) {
    if (!host.matches("[0-9.]+|[0-9a-fA-F:]+")) {
      return false;
    }
    try {
      return InetAddress.getByName(host).getHostAddress() != null;
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
