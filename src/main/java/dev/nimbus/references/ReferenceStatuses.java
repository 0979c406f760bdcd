package dev.nimbus.references;

import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.KeyPairStatus;
import dev.nimbus.api.v1alpha1.MachineImage;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupStatus;
import dev.nimbus.api.v1alpha1.SimpleStatus;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.conditions.Conditions;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** The status of the referenced kinds, computed from their spec alone. */
public final class ReferenceStatuses {
  private ReferenceStatuses() {}

  public static KeyPairStatus of(KeyPair keyPair) {
    long generation = generation(keyPair.getMetadata().getGeneration());
    Optional<String> fingerprint = KeyFingerprints.sha256(keyPair.getSpec().publicKey());
    List<Condition> previous =
        keyPair.getStatus() == null ? null : keyPair.getStatus().conditions();
    List<Condition> conditions =
        fingerprint.isPresent()
            ? Conditions.set(
                previous, "Ready", true, "KeyRead", "servers may name this key pair", generation)
            : Conditions.set(
                previous,
                "Ready",
                false,
                "InvalidKey",
                "publicKey is not an OpenSSH public key: its second field is not base64",
                generation);
    return new KeyPairStatus(generation, conditions, fingerprint.orElse(null));
  }

  public static SimpleStatus of(InstanceType type) {
    long generation = generation(type.getMetadata().getGeneration());
    var spec = type.getSpec();
    return new SimpleStatus(
        generation,
        Conditions.set(
            type.getStatus() == null ? null : type.getStatus().conditions(),
            "Ready",
            true,
            "Defined",
            spec.vcpus() + " vCPU, " + spec.memory() + " per instance",
            generation));
  }

  public static SimpleStatus of(TaskDefinitionRevision revision) {
    long generation = generation(revision.getMetadata().getGeneration());
    var spec = revision.getSpec();
    return new SimpleStatus(
        generation,
        Conditions.set(
            revision.getStatus() == null ? null : revision.getStatus().conditions(),
            "Ready",
            true,
            "Registered",
            "RunTask may name "
                + spec.taskDefinition().family()
                + ":"
                + spec.revision()
                + " ("
                + spec.taskDefinition().cpu()
                + " CPU units, "
                + spec.taskDefinition().memory()
                + " MiB)",
            generation));
  }

  public static SimpleStatus of(MachineImage image) {
    long generation = generation(image.getMetadata().getGeneration());
    return new SimpleStatus(
        generation,
        Conditions.set(
            image.getStatus() == null ? null : image.getStatus().conditions(),
            "Ready",
            true,
            "Registered",
            "RunInstances with ImageId "
                + image.getMetadata().getName()
                + " boots "
                + image.getSpec().containerDisk(),
            generation));
  }

  public static SecurityGroupStatus of(SecurityGroup group) {
    long generation = generation(group.getMetadata().getGeneration());
    var spec = group.getSpec();
    int ingress = spec.ingress() == null ? 0 : spec.ingress().size();
    String egress =
        spec.egress() == null ? "all egress (default)" : spec.egress().size() + " egress rule(s)";
    return new SecurityGroupStatus(
        generation,
        Conditions.set(
            group.getStatus() == null ? null : group.getStatus().conditions(),
            "Ready",
            true,
            "RulesRead",
            ingress + " ingress rule(s), " + egress,
            generation),
        Names.securityGroupId(group.getMetadata().getUid()));
  }

  private static long generation(Long generation) {
    return Objects.requireNonNullElse(generation, 1L);
  }
}
