package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** One allow rule: a protocol, a port range, and where the traffic may come from or go to. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "!has(self.fromPort) || !has(self.toPort) || self.fromPort <= self.toPort",
    message = "fromPort must not be greater than toPort")
@ValidationRule(
    value = "self.protocol == 'all' || has(self.fromPort)",
    message = "fromPort is required unless protocol is all")
@ValidationRule(
    value = "size(self.cidrBlocks) + size(self.securityGroups) > 0",
    message = "a rule needs at least one peer: cidrBlocks or securityGroups")
public record SecurityGroupRule(
    @JsonPropertyDescription(
            "tcp, udp or sctp, or all for every protocol and port (EC2's -1). Default tcp.")
        @Default("tcp")
        Protocol protocol,
    @JsonPropertyDescription("First port of the range, 1 to 65535. Ignored when protocol is all.")
        @Min(1)
        @Max(65535)
        Integer fromPort,
    @JsonPropertyDescription(
            "Last port of the range, 1 to 65535, at least fromPort. Unset means fromPort alone.")
        @Min(1)
        @Max(65535)
        Integer toPort,
    @JsonPropertyDescription(
            "IPv4 or IPv6 CIDR blocks the traffic comes from (ingress) or goes to (egress), such"
                + " as 10.0.0.0/8 or 0.0.0.0/0.")
        @Size(max = 32)
        @Default("[]")
        @ValidationRule(
            value = "self.all(c, isCIDR(c))",
            message = "cidrBlocks must hold CIDR blocks such as 10.0.0.0/8 or 2001:db8::/32")
        @ItemMaxLength(64)
        List<String> cidrBlocks,
    @JsonPropertyDescription(
            "Names of SecurityGroups in the same namespace whose members are the peers.")
        @Size(max = 16)
        @Default("[]")
        @ValidationRule(
            value = "self.all(g, g.matches('" + ApiGroup.DNS_LABEL + "'))",
            message =
                "securityGroups must hold SecurityGroup names: DNS labels of lower-case letters,"
                    + " digits and '-', at most 63 characters")
        @ItemMaxLength(63)
        List<String> securityGroups) {

  /** The protocols a rule can allow. */
  public enum Protocol {
    tcp,
    udp,
    sctp,
    all
  }
}
