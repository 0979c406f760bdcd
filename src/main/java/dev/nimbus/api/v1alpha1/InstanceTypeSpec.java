package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** The size of one instance of this type. */
@JsonClassDescription("The size of one instance of this type.")
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "self.vcpus == oldSelf.vcpus && self.memory == oldSelf.memory",
    message =
        "an InstanceType's vcpus and memory cannot change, as an EC2 instance type's never do:"
            + " create another InstanceType and change the servers' spec.instanceType, which goes"
            + " through admission")
public record InstanceTypeSpec(
    @JsonPropertyDescription(
            "Number of virtual CPUs of one instance, 1 to 256. One vCPU is one Kubernetes CPU"
                + " (1000m) of the pool's virtual capacity; what the node really reserves is that"
                + " divided by the pool's CPU ratio.")
        @Required
        @Min(1)
        @Max(256)
        Integer vcpus,
    @JsonPropertyDescription(
            "Memory of one instance, as a Kubernetes quantity such as 512Mi, 4Gi or 16Gi: greater"
                + " than zero and at most 16Ti, the most Nimbus counts for one instance.")
        @Required
        @Size(max = 32)
        @ValidationRule(
            value = Rules.POSITIVE_QUANTITY + " && !quantity(self).isGreaterThan(quantity('16Ti'))",
            message =
                "memory must be a quantity greater than zero and at most 16Ti, such as 512Mi or"
                    + " 4Gi")
        String memory,
    @JsonPropertyDescription(
            "Free text shown to users choosing a type, such as \"burstable, 2 vCPU, 1 GiB\".")
        @Size(max = 256)
        String description) {}
