package dev.nimbus.aws;

import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.KeyPairSpec;
import dev.nimbus.naming.Names;
import dev.nimbus.references.KeyFingerprints;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * EC2's key pair actions on KeyPairs of the key's namespace: a key pair's name is the KeyPair's,
 * its {@code key-} id derives from the KeyPair's UID, its fingerprint is the one the KeyPair's
 * status shows (SHA-256, as {@code ssh-keygen -l} prints it).
 */
final class Ec2KeyPairs {
  private Ec2KeyPairs() {}

  static String importKeyPair(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    String name = required(request, "KeyName");
    String material;
    try {
      material =
          new String(
                  Base64.getMimeDecoder().decode(required(request, "PublicKeyMaterial")),
                  StandardCharsets.UTF_8)
              .strip();
    } catch (IllegalArgumentException e) {
      throw new Ec2Exception(
          400, "InvalidKeyPair.Format", "PublicKeyMaterial must be base64-encoded");
    }
    if (KeyFingerprints.sha256(material).isEmpty()) {
      throw new Ec2Exception(
          400,
          "InvalidKeyPair.Format",
          "Key is not in valid OpenSSH public key format (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)");
    }
    KeyPair pair = new KeyPair();
    pair.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(key.namespace())
            .withLabels(Map.of(Names.CREATED_BY_LABEL, Names.CREATED_BY_AWS_API))
            .build());
    pair.setSpec(new KeyPairSpec(material));
    KeyPair created;
    try {
      created = caller.resource(pair).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        throw new Ec2Exception(
            400, "InvalidKeyPair.Duplicate", "The keypair '" + name + "' already exists.");
      }
      throw Ec2Errors.of(e);
    }
    return Ec2Xml.response(
        "ImportKeyPair",
        requestId,
        xml ->
            xml.text("keyFingerprint", fingerprint(created))
                .text("keyName", name)
                .text("keyPairId", Names.keyPairId(created.getMetadata().getUid())));
  }

  static String describeKeyPairs(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    List<String> names = request.list("KeyName");
    List<String> ids = request.list("KeyPairId");
    List<KeyPair> pairs =
        caller.resources(KeyPair.class).inNamespace(key.namespace()).list().getItems().stream()
            .filter(p -> names.isEmpty() || names.contains(p.getMetadata().getName()))
            .filter(p -> ids.isEmpty() || ids.contains(Names.keyPairId(p.getMetadata().getUid())))
            .toList();
    for (String name : names) {
      if (pairs.stream().noneMatch(p -> p.getMetadata().getName().equals(name))) {
        throw new Ec2Exception(
            400, "InvalidKeyPair.NotFound", "The key pair '" + name + "' does not exist");
      }
    }
    for (String id : ids) {
      if (pairs.stream().noneMatch(p -> Names.keyPairId(p.getMetadata().getUid()).equals(id))) {
        throw new Ec2Exception(
            400, "InvalidKeyPair.NotFound", "The key pair '" + id + "' does not exist");
      }
    }
    boolean withPublicKey =
        request.string("IncludePublicKey").map(Boolean::parseBoolean).orElse(false);
    return Ec2Xml.response(
        "DescribeKeyPairs",
        requestId,
        xml ->
            xml.items(
                "keySet",
                pairs,
                (item, pair) ->
                    item.text("keyPairId", Names.keyPairId(pair.getMetadata().getUid()))
                        .text("keyType", keyType(pair.getSpec().publicKey()))
                        .text("publicKey", withPublicKey ? pair.getSpec().publicKey() : null)
                        .text("createTime", pair.getMetadata().getCreationTimestamp())
                        .text("keyName", pair.getMetadata().getName())
                        .text("keyFingerprint", fingerprint(pair))));
  }

  /** Deletes a key pair by name or id; one that does not exist is no error, as in EC2. */
  static String deleteKeyPair(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    var pairs = caller.resources(KeyPair.class).inNamespace(key.namespace());
    String name = request.string("KeyName").orElse(null);
    String id = request.string("KeyPairId").orElse(null);
    if (name == null && id == null) {
      throw new Ec2Exception(
          400, "MissingParameter", "The request must contain KeyName or KeyPairId");
    }
    List<KeyPair> doomed =
        pairs.list().getItems().stream()
            .filter(
                p ->
                    p.getMetadata().getName().equals(name)
                        || Names.keyPairId(p.getMetadata().getUid()).equals(id))
            .toList();
    try {
      doomed.forEach(p -> pairs.resource(p).delete());
    } catch (KubernetesClientException e) {
      throw Ec2Errors.of(e);
    }
    return Ec2Xml.response(
        "DeleteKeyPair",
        requestId,
        xml ->
            xml.text("return", true)
                .text(
                    "keyPairId",
                    doomed.isEmpty()
                        ? null
                        : Names.keyPairId(doomed.get(0).getMetadata().getUid())));
  }

  private static String fingerprint(KeyPair pair) {
    return KeyFingerprints.sha256(pair.getSpec().publicKey()).orElse(null);
  }

  /** EC2's key types: ed25519 or rsa (ECDSA keys are shown as neither, as EC2 has no name). */
  private static String keyType(String publicKey) {
    if (publicKey.startsWith("ssh-ed25519 ")) {
      return "ed25519";
    }
    return publicKey.startsWith("ssh-rsa ") ? "rsa" : null;
  }

  private static String required(Ec2Request request, String name) {
    return request
        .string(name)
        .orElseThrow(
            () -> new Ec2Exception(400, "MissingParameter", "The request must contain " + name));
  }
}
