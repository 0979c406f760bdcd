package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** The public key of a key pair. */
@JsonClassDescription("The public half of the key pair.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record KeyPairSpec(
    @JsonPropertyDescription(
            "The public key in OpenSSH format, one line as in ~/.ssh/id_ed25519.pub: the key type"
                + " (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521 or a FIDO sk- type), the"
                + " base64 key, and an optional comment. Never put a private key here.")
        @Required
        @Size(max = 16384)
        @ValidationRule(
            value = KeyPairSpec.OPENSSH_PUBLIC_KEY,
            message =
                "publicKey must be one OpenSSH public key line: '<type> <base64> [comment]', with"
                    + " type ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521,"
                    + " sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com")
        @ValidationRule(
            value = KeyPairSpec.BLOB_OF_ITS_TYPE,
            message =
                "publicKey's base64 part must encode a key of the type the line names (it begins"
                    + " with that type's name; an ssh-ed25519 key is 68 characters starting"
                    + " AAAAC3NzaC1lZDI1NTE5): paste the whole line of the .pub file")
        String publicKey) {

  static final String OPENSSH_PUBLIC_KEY =
      "self.matches('^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)"
          + "|sk-ssh-ed25519@openssh\\\\.com|sk-ecdsa-sha2-nistp256@openssh\\\\.com)"
          + " [A-Za-z0-9+/]+={0,3}( [^\\\\n]*)?$')";

  /**
   * An OpenSSH key blob starts with its own type name, length-prefixed: the base64 of those first
   * bytes is fixed per type, and an ed25519 blob has a fixed length. A line whose blob is no key of
   * its type is refused before any server is built with it.
   */
  static final String BLOB_OF_ITS_TYPE =
      "self.matches('^(ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]{48}( |$)"
          + "|ssh-rsa AAAAB3NzaC1y"
          + "|ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAy"
          + "|ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAz"
          + "|ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1"
          + "|sk-ssh-ed25519@openssh\\\\.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t"
          + "|sk-ecdsa-sha2-nistp256@openssh\\\\.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5j)')";
}
