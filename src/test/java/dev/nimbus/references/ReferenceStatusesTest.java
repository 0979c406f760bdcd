package dev.nimbus.references;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.KeyPairSpec;
import dev.nimbus.api.v1alpha1.KeyPairStatus;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import org.junit.jupiter.api.Test;

/** The status of key pairs, instance types and security groups, without a cluster. */
class ReferenceStatusesTest {
  @Test
  void aKeyPairsFingerprintIsTheOneSshKeygenPrints() {
    // ssh-keygen -lf of this key prints SHA256:Rwu4fNMUlYjMg9MOnUbDGRBPtQ9GXa6Uf+nMGAZ7OAk.
    KeyPairStatus status =
        ReferenceStatuses.of(
            keyPair(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA44rIqeZaZ5S1tAJpHTIUnD8y7aIwUvtlgm6PZ9Gdq1"
                    + " test@nimbus"));

    assertThat(status.fingerprint())
        .isEqualTo("SHA256:Rwu4fNMUlYjMg9MOnUbDGRBPtQ9GXa6Uf+nMGAZ7OAk");
    assertThat(status.conditions())
        .singleElement()
        .satisfies(c -> assertThat(c.getType() + "=" + c.getStatus()).isEqualTo("Ready=True"));
  }

  @Test
  void aKeyThatIsNotBase64IsNotReady() {
    KeyPairStatus status = ReferenceStatuses.of(keyPair("ssh-ed25519 not*base64 x"));

    assertThat(status.fingerprint()).isNull();
    assertThat(status.conditions().get(0).getReason()).isEqualTo("InvalidKey");
  }

  @Test
  void theSameKeyGivesAnEqualStatus() {
    KeyPair keyPair =
        keyPair("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA44rIqeZaZ5S1tAJpHTIUnD8y7aIwUvtlgm6PZ9Gdq1");
    keyPair.setStatus(ReferenceStatuses.of(keyPair));

    assertThat(ReferenceStatuses.of(keyPair)).as("no write").isEqualTo(keyPair.getStatus());
  }

  private static KeyPair keyPair(String publicKey) {
    KeyPair keyPair = new KeyPair();
    keyPair.setMetadata(
        new ObjectMetaBuilder().withName("k").withNamespace("ns").withGeneration(1L).build());
    keyPair.setSpec(new KeyPairSpec(publicKey));
    return keyPair;
  }
}
