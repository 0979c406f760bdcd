package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** The runtime class that one ContainerTask platform version runs with. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PlatformVersion(
    @JsonPropertyDescription("The platform version, such as 1.4.0, or LATEST.")
        @Required
        @Size(max = 32)
        @ValidationRule(
            value = ContainerTaskSpec.PLATFORM_VERSION_RULE,
            message = "version must be LATEST or a version such as 1.4.0")
        String version,
    @JsonPropertyDescription("The name of the RuntimeClass that tasks of this version run with.")
        @Required
        @Size(max = 253)
        @ValidationRule(
            value = Rules.DNS_SUBDOMAIN,
            message =
                "runtimeClassName must be a RuntimeClass name: lower-case letters, digits, '-'"
                    + " and '.'")
        String runtimeClassName) {}
