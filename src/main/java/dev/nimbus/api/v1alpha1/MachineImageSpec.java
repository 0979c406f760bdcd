package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/** What a registered image boots. */
@JsonClassDescription("What a registered image boots.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MachineImageSpec(
    @JsonPropertyDescription(
            "A container image that holds a disk image, as KubeVirt's containerDisk, such as"
                + " quay.io/containerdisks/fedora:40: what a VirtualServer's spec.image becomes when"
                + " the AWS API's RunInstances names this image. Changing it changes only servers"
                + " created afterwards.")
        @Required
        @Size(min = 1, max = 512)
        String containerDisk,
    @JsonPropertyDescription(
            "Free text shown to users choosing an image (EC2's image description), such as"
                + " \"Fedora 40, cloud-init\".")
        @Size(max = 256)
        String description) {}
