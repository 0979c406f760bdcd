package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** What to run and how many, in the words of EC2 RunInstances. */
@JsonClassDescription("What to run and how many, in the words of EC2 RunInstances.")
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "self.minCount <= self.maxCount",
    message = "minCount must not be greater than maxCount")
@ValidationRule(
    value = "has(self.pool) == has(oldSelf.pool)",
    message =
        "pool cannot be set or unset once the VirtualServer exists: it keeps the pool it was"
            + " admitted to; create a new VirtualServer to run in another pool")
public record VirtualServerSpec(
    @JsonPropertyDescription(
            "The boot image (EC2's ImageId): a container image that holds a disk image, as"
                + " KubeVirt's containerDisk, such as quay.io/containerdisks/fedora:40. It cannot"
                + " be changed; create a new VirtualServer for another image.")
        @Required
        @Size(min = 1, max = 512)
        @ValidationRule(
            value = Rules.IMMUTABLE,
            message = "image is immutable; create a new VirtualServer to use another image")
        String image,
    @JsonPropertyDescription(
            "The name of an InstanceType (such as t3.micro) that sets each instance's vCPUs and"
                + " memory. Changing it resizes every instance and goes through admission again.")
        @Required
        @Size(max = 253)
        @ValidationRule(
            value = Rules.DNS_SUBDOMAIN,
            message =
                "instanceType must be an InstanceType name such as t3.micro: lower-case letters,"
                    + " digits, '-' and '.'")
        String instanceType,
    @JsonPropertyDescription(
            "The fewest instances worth running, 1 to 100. If the pool has no room for this"
                + " many, the request is denied and nothing runs. Default 1.")
        @Default("1")
        @Min(1)
        @Max(100)
        Integer minCount,
    @JsonPropertyDescription(
            "The most instances to run, 1 to 100, at least minCount. Nimbus admits as many as the"
                + " pool has room for, up to this; status.admittedCount says how many. Default"
                + " 1.")
        @Default("1")
        @Min(1)
        @Max(100)
        Integer maxCount,
    @JsonPropertyDescription(
            "The name of a KeyPair in this namespace whose public key may log in as the image's"
                + " default user. Unset: no key is installed.")
        @Size(max = 63)
        @ValidationRule(value = Rules.DNS_LABEL, message = "keyName " + Rules.LABEL_MESSAGE)
        String keyName,
    @JsonPropertyDescription(
            "Names of SecurityGroups in this namespace that control the instances' traffic."
                + " Unset: the namespace's own network policies apply.")
        @Size(max = 16)
        @ValidationRule(
            value = "self.all(g, g.matches('" + ApiGroup.DNS_LABEL + "'))",
            message = "securityGroups " + Rules.LABELS_MESSAGE)
        @ItemMaxLength(63)
        List<String> securityGroups,
    @JsonPropertyDescription(
            "Data given to the guest at first boot, usually a cloud-init script or"
                + " #cloud-config document, in plain text (not base64), at most 16 KiB. Nimbus"
                + " keeps it in a Secret that the instances read, never inline in the"
                + " VirtualMachine.")
        @Size(max = 16384)
        @ValidationRule(
            value = "size(bytes(self)) <= 16384",
            message = "userData must be at most 16 KiB (16384 bytes) of UTF-8 text")
        String userData,
    @JsonPropertyDescription(
            "The name of the CapacityPool to run in. Unset: the pool that is the default for"
                + " VirtualServers when the server is created; it stays in that pool even when"
                + " another pool becomes the default. It cannot be set, unset or changed after the"
                + " create.")
        @Size(max = 253)
        @ValidationRule(
            value = Rules.DNS_SUBDOMAIN,
            message = "pool must be a CapacityPool name: lower-case letters, digits, '-' and '.'")
        @ValidationRule(
            value = Rules.IMMUTABLE,
            message = "pool is immutable; create a new VirtualServer to run in another pool")
        String pool,
    @JsonPropertyDescription(
            "Whether the instances run. false stops them all (EC2 StopInstances) and releases"
                + " their capacity; true starts them again, which goes through admission and may"
                + " be refused if the pool has filled up meanwhile. Default true.")
        @Default("true")
        Boolean running,
    @JsonPropertyDescription(
            "When true, deleting this VirtualServer is refused (EC2's DisableApiTermination)."
                + " Set it to false first to delete. Default false.")
        @Default("false")
        Boolean terminationProtection,
    @JsonPropertyDescription(
            "Set to a new value (such as the time now) to restart every running instance once,"
                + " as EC2's RebootInstances and kubectl rollout restart do: each keeps its node,"
                + " id and reservation. The value itself means nothing else.")
        @Size(max = 64)
        String restartedAt) {

  /** A server that was never asked to restart. */
  public VirtualServerSpec(
      String image,
      String instanceType,
      Integer minCount,
      Integer maxCount,
      String keyName,
      List<String> securityGroups,
      String userData,
      String pool,
      Boolean running,
      Boolean terminationProtection) {
    this(
        image,
        instanceType,
        minCount,
        maxCount,
        keyName,
        securityGroups,
        userData,
        pool,
        running,
        terminationProtection,
        null);
  }
}
