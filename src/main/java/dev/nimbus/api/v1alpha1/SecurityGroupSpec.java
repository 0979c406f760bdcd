package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/** The rules of a security group. */
@JsonClassDescription("The allow rules of the group.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SecurityGroupSpec(
    @JsonPropertyDescription("What the group is for, shown in `kubectl get secgroup`.")
        @Size(max = 255)
        String description,
    @JsonPropertyDescription(
            "Traffic allowed into members of the group. An empty list allows no inbound"
                + " traffic.")
        @Size(max = 60)
        List<SecurityGroupRule> ingress,
    @JsonPropertyDescription(
            "Traffic allowed out of members of the group. When unset, all outbound traffic is"
                + " allowed, as in EC2's default egress rule; an empty list allows none.")
        @Size(max = 60)
        List<SecurityGroupRule> egress) {}
