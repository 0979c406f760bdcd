package dev.nimbus.webhook;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Optional;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemGenerationException;

/**
 * The webhook's own certificate authority, kept with its key in the certificate Secret. It signs
 * every serving certificate, so a renewed serving certificate is trusted by the caBundle the API
 * server already holds: renewing one changes nothing the API server has to learn.
 */
public record CertificateAuthority(X509Certificate certificate, PrivateKey key) {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A new CA named after {@code commonName}, valid for {@code validity}. */
  public static CertificateAuthority issue(String commonName, Duration validity) {
    try {
      KeyPair keys = newKeyPair();
      Instant now = Instant.now();
      X500Name name = new X500Name("CN=" + commonName + " CA " + now.getEpochSecond());
      X509v3CertificateBuilder ca =
          new JcaX509v3CertificateBuilder(
              name,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(validity)),
              name,
              keys.getPublic());
      ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      ca.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      return new CertificateAuthority(sign(ca, keys.getPrivate()), keys.getPrivate());
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot issue a certificate authority", e);
    }
  }

  /** The CA whose certificate and key these PEM texts hold; empty when they cannot be read. */
  public static Optional<CertificateAuthority> read(String certificatePem, String keyPem) {
    try (PEMParser certificates = new PEMParser(new StringReader(certificatePem));
        PEMParser keys = new PEMParser(new StringReader(keyPem))) {
      Object certificate = certificates.readObject();
      Object key = keys.readObject();
      PrivateKeyInfo info =
          key instanceof PEMKeyPair pair
              ? pair.getPrivateKeyInfo()
              : key instanceof PrivateKeyInfo plain ? plain : null;
      if (!(certificate instanceof org.bouncycastle.cert.X509CertificateHolder holder)
          || info == null) {
        return Optional.empty();
      }
      return Optional.of(
          new CertificateAuthority(
              new JcaX509CertificateConverter().getCertificate(holder),
              new JcaPEMKeyConverter().getPrivateKey(info)));
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      return Optional.empty();
    }
  }

  public X500Name name() {
    return X500Name.getInstance(certificate.getSubjectX500Principal().getEncoded());
  }

  public Instant notAfter() {
    return certificate.getNotAfter().toInstant();
  }

  public String certificatePem() {
    return pem(certificate);
  }

  /** The key in PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  public String keyPem() {
    return pem(key);
  }

  /** {@code builder} signed by this CA. */
  X509Certificate sign(X509v3CertificateBuilder builder)
      throws OperatorCreationException, GeneralSecurityException {
    return sign(builder, key);
  }

  static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(256, RANDOM);
    return generator.generateKeyPair();
  }

  static BigInteger serial() {
    return new BigInteger(64, RANDOM).abs().add(BigInteger.ONE);
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws OperatorCreationException, GeneralSecurityException {
    var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key);
    return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
  }

  /** A certificate, or a private key as PKCS#8, in PEM. */
  static String pem(Object object) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      if (object instanceof PrivateKey key) {
        writer.writeObject(new JcaPKCS8Generator(key, null).generate());
      } else {
        writer.writeObject(object);
      }
    } catch (PemGenerationException e) {
      throw new IllegalStateException("cannot encode the private key", e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }
}
