package dev.nimbus.workload;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupRule;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyEgressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPortBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicySpec;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicySpecBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The NetworkPolicy that enforces a workload's security groups on its pods. As in EC2, the rules of
 * all its groups add up and only allow: the policy isolates the pods in both directions and allows
 * what any group allows. A group whose egress is unset allows all outbound traffic (EC2's default
 * egress rule). A peer group selects the pods that carry that group's label, which Nimbus puts on
 * every pod of a workload that names the group.
 *
 * <p>When the groups limit egress, the policy still lets the pods reach the cluster's DNS (the pods
 * labelled {@code k8s-app: kube-dns} in {@code kube-system}, port 53 over UDP and TCP), as an EC2
 * instance always reaches its VPC's resolver whatever its security groups say.
 */
public final class Firewall {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Firewall() {}

  /**
   * The policy named {@code name} for the pods that {@code podLabels} select, owned by {@code
   * owner}; {@code groups} in the order the workload names them.
   */
  public static NetworkPolicy desired(
      HasMetadata owner, String name, Map<String, String> podLabels, List<SecurityGroup> groups) {
    List<NetworkPolicyIngressRule> ingress = new ArrayList<>();
    List<NetworkPolicyEgressRule> egress = new ArrayList<>();
    for (SecurityGroup group : groups) {
      var spec = group.getSpec();
      if (spec.ingress() != null) {
        for (SecurityGroupRule rule : spec.ingress()) {
          ingress.add(new NetworkPolicyIngressRule(peers(rule), ports(rule)));
        }
      }
      if (spec.egress() == null) {
        egress.add(new NetworkPolicyEgressRule());
      } else {
        for (SecurityGroupRule rule : spec.egress()) {
          egress.add(new NetworkPolicyEgressRule(ports(rule), peers(rule)));
        }
      }
    }
    if (egress.stream().noneMatch(rule -> rule.getTo().isEmpty() && rule.getPorts().isEmpty())) {
      egress.add(clusterDns());
    }
    NetworkPolicySpec spec =
        new NetworkPolicySpecBuilder()
            .withPodSelector(new LabelSelectorBuilder().withMatchLabels(podLabels).build())
            .withPolicyTypes("Ingress", "Egress")
            .withIngress(ingress)
            .withEgress(egress)
            .build();
    return new NetworkPolicyBuilder()
        .withMetadata(
            new ObjectMetaBuilder()
                .withName(name)
                .withNamespace(owner.getMetadata().getNamespace())
                // The workload's own label lets its controller find the policy in its cache.
                .withLabels(labels(podLabels))
                .withAnnotations(
                    Map.of(
                        Names.SECURITY_GROUPS_ANNOTATION,
                        String.join(
                            ",", groups.stream().map(g -> g.getMetadata().getName()).toList()),
                        Names.SPEC_DIGEST_ANNOTATION,
                        specDigest(spec)))
                .withOwnerReferences(Links.controlledBy(owner))
                .build())
        .withSpec(spec)
        .build();
  }

  /**
   * {@code policy}'s annotations, with {@link Names#SPEC_DIGEST_ANNOTATION} holding the digest of
   * the spec the policy has when it has one (whatever was written there), else as they are: the
   * controllers' caches keep a policy so, and compare these with the wanted policy's annotations.
   */
  public static Map<String, String> observedAnnotations(NetworkPolicy policy) {
    Map<String, String> annotations =
        new HashMap<>(
            policy.getMetadata().getAnnotations() == null
                ? Map.of()
                : policy.getMetadata().getAnnotations());
    if (policy.getSpec() != null) {
      annotations.put(Names.SPEC_DIGEST_ANNOTATION, specDigest(policy.getSpec()));
    }
    return annotations;
  }

  /**
   * The SHA-256 of {@code spec}'s JSON, in hex: equal specs have equal digests, as the model's
   * fields serialize in a fixed order.
   */
  public static String specDigest(NetworkPolicySpec spec) {
    try {
      byte[] json = JSON.writeValueAsString(spec).getBytes(StandardCharsets.UTF_8);
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(json));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a NetworkPolicy spec as JSON", e);
    }
  }

  /** Port 53 of the cluster's DNS pods, over UDP and TCP. */
  private static NetworkPolicyEgressRule clusterDns() {
    NetworkPolicyPeer dns =
        new NetworkPolicyPeerBuilder()
            .withNewNamespaceSelector()
            .addToMatchLabels(Names.NAMESPACE_NAME_LABEL, Names.CLUSTER_DNS_NAMESPACE)
            .endNamespaceSelector()
            .withNewPodSelector()
            .addToMatchLabels(Names.CLUSTER_DNS_LABEL, Names.CLUSTER_DNS_LABEL_VALUE)
            .endPodSelector()
            .build();
    return new NetworkPolicyEgressRule(
        List.of(
            new NetworkPolicyPortBuilder()
                .withProtocol("UDP")
                .withPort(new IntOrString(53))
                .build(),
            new NetworkPolicyPortBuilder()
                .withProtocol("TCP")
                .withPort(new IntOrString(53))
                .build()),
        List.of(dns));
  }

  private static Map<String, String> labels(Map<String, String> workloadLabels) {
    Map<String, String> labels = new TreeMap<>(workloadLabels);
    labels.put(Names.MANAGED_BY, "nimbus");
    return labels;
  }

  private static List<NetworkPolicyPeer> peers(SecurityGroupRule rule) {
    List<NetworkPolicyPeer> peers = new ArrayList<>();
    if (rule.cidrBlocks() != null) {
      for (String cidr : rule.cidrBlocks()) {
        peers.add(
            new NetworkPolicyPeerBuilder().withNewIpBlock().withCidr(cidr).endIpBlock().build());
      }
    }
    if (rule.securityGroups() != null) {
      for (String group : rule.securityGroups()) {
        peers.add(
            new NetworkPolicyPeerBuilder()
                .withNewPodSelector()
                .addNewMatchExpression()
                .withKey(Names.securityGroupLabel(group))
                .withOperator("Exists")
                .endMatchExpression()
                .endPodSelector()
                .build());
      }
    }
    return peers;
  }

  /** No ports: every port (protocol all). */
  private static List<NetworkPolicyPort> ports(SecurityGroupRule rule) {
    SecurityGroupRule.Protocol protocol =
        rule.protocol() == null ? SecurityGroupRule.Protocol.tcp : rule.protocol();
    if (protocol == SecurityGroupRule.Protocol.all) {
      return List.of();
    }
    var port =
        new NetworkPolicyPortBuilder()
            .withProtocol(protocol.name().toUpperCase(Locale.ROOT))
            .withPort(new IntOrString(rule.fromPort()));
    if (rule.toPort() != null && rule.toPort() > rule.fromPort()) {
      port.withEndPort(rule.toPort());
    }
    return List.of(port.build());
  }
}
