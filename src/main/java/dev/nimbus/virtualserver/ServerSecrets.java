package dev.nimbus.virtualserver;

import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.Links;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;

/**
 * The Secrets a VirtualServer's VMs read: its cloud-init user data, and the public key of its key
 * pair, which KubeVirt installs for the image's default user through cloud-init. Both are owned by
 * the VirtualServer and go with it.
 */
public final class ServerSecrets {
  /** The key under which KubeVirt's cloudInitNoCloud reads the user data. */
  static final String USER_DATA_KEY = "userdata";

  /** Each key of an access-credentials Secret holds one public key; Nimbus installs one. */
  static final String PUBLIC_KEY_KEY = "authorized-key";

  private ServerSecrets() {}

  public static Secret userData(VirtualServer server) {
    return secret(
        server,
        Names.userDataSecret(server.getMetadata().getName()),
        USER_DATA_KEY,
        server.getSpec().userData());
  }

  public static Secret sshKey(VirtualServer server, KeyPair keyPair) {
    return secret(
        server,
        Names.sshKeySecret(server.getMetadata().getName()),
        PUBLIC_KEY_KEY,
        keyPair.getSpec().publicKey());
  }

  private static Secret secret(VirtualServer server, String name, String key, String value) {
    return new SecretBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(server.getMetadata().getNamespace())
        .withLabels(
            Map.of(
                Names.MANAGED_BY,
                "nimbus",
                Names.VIRTUAL_SERVER_LABEL,
                server.getMetadata().getName()))
        .withOwnerReferences(Links.controlledBy(server))
        .endMetadata()
        .withType("Opaque")
        // data, not stringData: server-side apply tracks the fields it is given, and the API server
        // moves stringData into data.
        .withData(
            Map.of(key, Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8))))
        .build();
  }
}
