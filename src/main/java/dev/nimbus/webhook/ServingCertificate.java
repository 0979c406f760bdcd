package dev.nimbus.webhook;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
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
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemGenerationException;

/**
 * A TLS serving certificate for the admission webhook, with the private CA that signed it. The API
 * server trusts the CA through the webhook configuration's caBundle, so no cluster-wide PKI is
 * needed. Each call of {@link #issue} makes a new CA and a new certificate.
 */
public record ServingCertificate(
    X509Certificate caCertificate, X509Certificate certificate, PrivateKey privateKey) {

  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * Issues a certificate valid for {@code validity} for the given DNS names and IP addresses
   * (entries that parse as an IP literal become IP subject alternative names).
   */
  public static ServingCertificate issue(String commonName, List<String> hosts, Duration validity) {
    try {
      KeyPair caKeys = newKeyPair();
      Instant now = Instant.now();
      X500Name caName = new X500Name("CN=" + commonName + " CA");
      X509v3CertificateBuilder ca =
          new JcaX509v3CertificateBuilder(
              caName,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(validity)),
              caName,
              caKeys.getPublic());
      ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      ca.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      X509Certificate caCertificate = sign(ca, caKeys.getPrivate());

      KeyPair keys = newKeyPair();
      X509v3CertificateBuilder leaf =
          new JcaX509v3CertificateBuilder(
              caName,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(validity)),
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
      return new ServingCertificate(
          caCertificate, sign(leaf, caKeys.getPrivate()), keys.getPrivate());
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot issue a serving certificate", e);
    }
  }

  /** The CA certificate in PEM, as a webhook configuration's caBundle holds it (base64 of it). */
  public String caPem() {
    return pem(caCertificate);
  }

  public String certificatePem() {
    return pem(certificate);
  }

  /** The key in PKCS#8 PEM ("BEGIN PRIVATE KEY"), which every TLS stack reads. */
  public String privateKeyPem() {
    try {
      return pem(new JcaPKCS8Generator(privateKey, null).generate());
    } catch (PemGenerationException e) {
      throw new IllegalStateException("cannot encode the private key", e);
    }
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

  private static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(256, RANDOM);
    return generator.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, RANDOM).abs().add(BigInteger.ONE);
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws OperatorCreationException, GeneralSecurityException {
    var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key);
    return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
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

  private static String pem(Object object) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(object);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }
}
