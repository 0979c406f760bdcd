package dev.nimbus.workload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupRule;
import dev.nimbus.api.v1alpha1.SecurityGroupSpec;
import dev.nimbus.api.v1alpha1.VirtualServer;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The NetworkPolicy of a workload's security groups, built without a cluster. */
class FirewallTest {
  private static final SecurityGroupRule HTTPS_OUT =
      new SecurityGroupRule(SecurityGroupRule.Protocol.tcp, 443, null, List.of("0.0.0.0/0"), null);

  @Test
  void groupsWithoutEgressRulesAllowAllOutboundTrafficAsEc2sDefaultRule() {
    NetworkPolicy policy = policy(group("web", null));

    assertThat(policy.getSpec().getEgress())
        .singleElement()
        .satisfies(rule -> assertThat(rule.getTo()).isEmpty());
    assertThat(policy.getMetadata().getLabels())
        .containsEntry("compute.nimbus.dev/virtualserver", "web")
        .containsEntry("app.kubernetes.io/managed-by", "nimbus");
  }

  @Test
  void groupsThatLimitEgressStillReachClusterDns() {
    NetworkPolicy policy = policy(group("https-out", List.of(HTTPS_OUT)));

    assertThat(policy.getSpec().getEgress()).hasSize(2);
    NetworkPolicyEgressRule dns = policy.getSpec().getEgress().get(1);
    assertThat(dns.getTo().get(0).getNamespaceSelector().getMatchLabels())
        .containsExactlyEntriesOf(Map.of("kubernetes.io/metadata.name", "kube-system"));
    assertThat(dns.getTo().get(0).getPodSelector().getMatchLabels())
        .containsExactlyEntriesOf(Map.of("k8s-app", "kube-dns"));
    assertThat(dns.getPorts())
        .extracting(p -> p.getProtocol() + "/" + p.getPort().getIntVal())
        .containsExactly("UDP/53", "TCP/53");
  }

  @Test
  void anEmptyEgressListAllowsOnlyClusterDns() {
    NetworkPolicy policy = policy(group("sealed", List.of()));

    assertThat(policy.getSpec().getEgress())
        .singleElement()
        .satisfies(rule -> assertThat(rule.getPorts()).hasSize(2));
  }

  private static NetworkPolicy policy(SecurityGroup group) {
    VirtualServer owner = new VirtualServer();
    owner.setMetadata(
        new ObjectMetaBuilder().withName("web").withNamespace("shop").withUid("u-web").build());
    return Firewall.desired(
        owner,
        "web-vsrv-secgroups",
        Map.of("compute.nimbus.dev/virtualserver", "web"),
        List.of(group));
  }

  private static SecurityGroup group(String name, List<SecurityGroupRule> egress) {
    SecurityGroup group = new SecurityGroup();
    group.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("shop").build());
    group.setSpec(new SecurityGroupSpec(name, List.of(), egress));
    return group;
  }
}
