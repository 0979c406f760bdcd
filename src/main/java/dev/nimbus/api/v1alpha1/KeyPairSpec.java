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
        String publicKey) {

  static final String OPENSSH_PUBLIC_KEY =
      "self.matches('^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)"
          + "|sk-ssh-ed25519@openssh\\\\.com|sk-ecdsa-sha2-nistp256@openssh\\\\.com)"
          + " [A-Za-z0-9+/]+={0,3}( [^\\\\n]*)?$')";
}
