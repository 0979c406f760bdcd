package dev.nimbus.references;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Optional;

/** OpenSSH public key fingerprints, as {@code ssh-keygen -lf} prints them. */
public final class KeyFingerprints {
  private KeyFingerprints() {}

  /**
   * {@code SHA256:} and the unpadded base64 of the SHA-256 of the key's blob, or empty when the
   * key's second field is not base64.
   */
  public static Optional<String> sha256(String publicKey) {
    String[] fields = publicKey.strip().split("\\s+");
    if (fields.length < 2) {
      return Optional.empty();
    }
    byte[] blob;
    try {
      blob = Base64.getDecoder().decode(fields[1].getBytes(StandardCharsets.US_ASCII));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(blob);
      return Optional.of("SHA256:" + Base64.getEncoder().withoutPadding().encodeToString(digest));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
