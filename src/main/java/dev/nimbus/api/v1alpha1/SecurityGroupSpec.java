package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/**
 * The rules of a security group. As in EC2, every CIDR block and every group a rule names counts as
 * one rule, 60 at most each way: that bounds what a group costs wherever it is kept, about 16 KB.
 */
@JsonClassDescription("The allow rules of the group.")
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value =
        "!has(self.ingress)"
            + " || self.ingress.map(r, size(r.cidrBlocks) + size(r.securityGroups)).sum() <= 60",
    message =
        "ingress may allow at most 60 peers in all: each CIDR block and each security group"
            + " of its rules counts as one rule, as in EC2")
@ValidationRule(
    value =
        "!has(self.egress)"
            + " || self.egress.map(r, size(r.cidrBlocks) + size(r.securityGroups)).sum() <= 60",
    message =
        "egress may allow at most 60 peers in all: each CIDR block and each security group"
            + " of its rules counts as one rule, as in EC2")
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
