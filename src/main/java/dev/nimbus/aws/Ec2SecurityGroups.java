package dev.nimbus.aws;

import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupRule;
import dev.nimbus.api.v1alpha1.SecurityGroupRule.Protocol;
import dev.nimbus.api.v1alpha1.SecurityGroupSpec;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * EC2's security group actions on SecurityGroups of the key's namespace. A group's name is the
 * SecurityGroup's, its {@code sg-} id derives from the UID. EC2's IpPermissions become Nimbus
 * rules: each (protocol, ports, peer) of a permission is one grant; grants are added and removed
 * one by one, and rules are written back grouped by protocol and ports.
 */
final class Ec2SecurityGroups {
  /** How often a rule change is tried again when another writer changed the group meanwhile. */
  private static final int CONFLICT_ATTEMPTS = 5;

  private Ec2SecurityGroups() {}

  /** One grant: a protocol and port range from one peer (a CIDR block or a group's name). */
  private record Grant(Protocol protocol, Integer fromPort, Integer toPort, String peer) {
    boolean isGroup() {
      return !peer.contains("/");
    }
  }

  static String createSecurityGroup(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    String name = required(request, "GroupName");
    String description = required(request, "GroupDescription");
    SecurityGroup group = new SecurityGroup();
    group.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(key.namespace())
            .withLabels(Map.of(Names.CREATED_BY_LABEL, Names.CREATED_BY_AWS_API))
            .build());
    group.setSpec(new SecurityGroupSpec(description, null, null));
    SecurityGroup created;
    try {
      created = caller.resource(group).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        throw new Ec2Exception(
            400,
            "InvalidGroup.Duplicate",
            "The security group '" + name + "' already exists for this namespace");
      }
      throw Ec2Errors.of(e);
    }
    return Ec2Xml.response(
        "CreateSecurityGroup",
        requestId,
        xml -> xml.text("groupId", Names.securityGroupId(created.getMetadata().getUid())));
  }

  static String describeSecurityGroups(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    List<SecurityGroup> all = groups(caller, key);
    List<String> ids = request.list("GroupId");
    List<String> names = request.list("GroupName");
    List<SecurityGroup> shown = new ArrayList<>();
    for (SecurityGroup group : all) {
      if ((ids.isEmpty() && names.isEmpty())
          || ids.contains(id(group))
          || names.contains(group.getMetadata().getName())) {
        shown.add(group);
      }
    }
    for (String id : ids) {
      if (shown.stream().noneMatch(g -> id(g).equals(id))) {
        throw notFound(id);
      }
    }
    for (String name : names) {
      if (shown.stream().noneMatch(g -> g.getMetadata().getName().equals(name))) {
        throw notFound(name);
      }
    }
    Map<String, String> idOf = new LinkedHashMap<>();
    all.forEach(g -> idOf.put(g.getMetadata().getName(), id(g)));
    return Ec2Xml.response(
        "DescribeSecurityGroups",
        requestId,
        xml ->
            xml.items(
                "securityGroupInfo",
                shown,
                (item, group) -> {
                  item.text("ownerId", key.namespace())
                      .text("groupName", group.getMetadata().getName())
                      .text("groupId", id(group))
                      .text("groupDescription", group.getSpec().description());
                  permissions(item, "ipPermissions", group.getSpec().ingress(), idOf);
                  List<SecurityGroupRule> egress =
                      group.getSpec().egress() == null
                          // EC2's default egress rule: everything, anywhere.
                          ? List.of(
                              new SecurityGroupRule(
                                  Protocol.all, null, null, List.of("0.0.0.0/0", "::/0"), null))
                          : group.getSpec().egress();
                  permissions(item, "ipPermissionsEgress", egress, idOf);
                }));
  }

  /** Adds ingress grants; any grant the group has already is EC2's duplicate, nothing added. */
  static String authorizeIngress(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    changeIngress(
        caller,
        key,
        request,
        (current, asked) -> {
          for (Grant grant : asked) {
            if (current.contains(grant)) {
              throw new Ec2Exception(
                  400,
                  "InvalidPermission.Duplicate",
                  "the specified rule \"peer: "
                      + grant.peer()
                      + ", "
                      + grant.protocol()
                      + ", ports "
                      + grant.fromPort()
                      + "-"
                      + grant.toPort()
                      + "\" already exists");
            }
          }
          Set<Grant> next = new LinkedHashSet<>(current);
          next.addAll(asked);
          return next;
        });
    return Ec2Xml.response(
        "AuthorizeSecurityGroupIngress", requestId, xml -> xml.text("return", true));
  }

  /**
   * Removes ingress grants. Running workloads follow at once: the group's NetworkPolicies are
   * rebuilt from the changed rules. Grants the group does not have are returned, as EC2 does.
   */
  static String revokeIngress(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    List<Grant> unknown = new ArrayList<>();
    changeIngress(
        caller,
        key,
        request,
        (current, asked) -> {
          unknown.clear();
          asked.stream().filter(g -> !current.contains(g)).forEach(unknown::add);
          Set<Grant> next = new LinkedHashSet<>(current);
          asked.forEach(next::remove);
          return next;
        });
    return Ec2Xml.response(
        "RevokeSecurityGroupIngress",
        requestId,
        xml -> {
          xml.text("return", true);
          if (!unknown.isEmpty()) {
            permissions(xml, "unknownIpPermissionSet", rules(unknown), Map.of());
          }
        });
  }

  /** Deletes a group no VirtualServer names; one that some do is EC2's dependency violation. */
  static String deleteSecurityGroup(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    SecurityGroup group = named(caller, key, request);
    String name = group.getMetadata().getName();
    List<String> users =
        caller
            .resources(VirtualServer.class)
            .inNamespace(key.namespace())
            .list()
            .getItems()
            .stream()
            .filter(
                s ->
                    s.getSpec().securityGroups() != null
                        && s.getSpec().securityGroups().contains(name))
            .map(s -> s.getMetadata().getName())
            .toList();
    if (!users.isEmpty()) {
      throw new Ec2Exception(
          400,
          "DependencyViolation",
          "resource " + id(group) + " has a dependent object: VirtualServer(s) " + users);
    }
    try {
      caller.resource(group).delete();
    } catch (KubernetesClientException e) {
      throw Ec2Errors.of(e);
    }
    return Ec2Xml.response(
        "DeleteSecurityGroup",
        requestId,
        xml -> xml.text("return", true).text("groupId", id(group)));
  }

  /** A change of the grants of a group's ingress. */
  private interface IngressChange {
    Set<Grant> apply(Set<Grant> current, List<Grant> asked);
  }

  private static void changeIngress(
      KubernetesClient caller, AccessKey key, Ec2Request request, IngressChange change) {
    for (int attempt = 1; ; attempt++) {
      SecurityGroup group = named(caller, key, request);
      Map<String, String> nameOfId = new LinkedHashMap<>();
      groups(caller, key).forEach(g -> nameOfId.put(id(g), g.getMetadata().getName()));
      List<Grant> asked = grants(request, nameOfId);
      Set<Grant> current = new LinkedHashSet<>(grants(group.getSpec().ingress()));
      Set<Grant> next = change.apply(current, asked);
      SecurityGroup changed = caller.getKubernetesSerialization().clone(group);
      changed.setSpec(
          new SecurityGroupSpec(
              group.getSpec().description(),
              next.isEmpty() ? null : rules(next),
              group.getSpec().egress()));
      try {
        caller.resource(changed).update();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 || attempt >= CONFLICT_ATTEMPTS) {
          throw Ec2Errors.of(e);
        }
      }
    }
  }

  /** The grants a request's permissions ask for: the old single-rule form or IpPermissions. */
  private static List<Grant> grants(Ec2Request request, Map<String, String> nameOfId) {
    List<Grant> grants = new ArrayList<>();
    if (request.string("IpProtocol").isPresent()) {
      Protocol protocol = protocol(request.string("IpProtocol").orElseThrow());
      Integer from = port(request, "FromPort", protocol);
      Integer to = port(request, "ToPort", protocol);
      request.string("CidrIp").ifPresent(c -> grants.add(new Grant(protocol, from, to, c)));
      request
          .string("SourceSecurityGroupName")
          .ifPresent(g -> grants.add(new Grant(protocol, from, to, g)));
    }
    for (int i = 1; request.string("IpPermissions." + i + ".IpProtocol").isPresent(); i++) {
      String prefix = "IpPermissions." + i;
      Protocol protocol = protocol(request.string(prefix + ".IpProtocol").orElseThrow());
      Integer from = port(request, prefix + ".FromPort", protocol);
      Integer to = port(request, prefix + ".ToPort", protocol);
      int before = grants.size();
      for (int r = 1; request.string(prefix + ".IpRanges." + r + ".CidrIp").isPresent(); r++) {
        grants.add(
            new Grant(
                protocol, from, to, request.string(prefix + ".IpRanges." + r + ".CidrIp").get()));
      }
      for (int r = 1; request.string(prefix + ".Ipv6Ranges." + r + ".CidrIpv6").isPresent(); r++) {
        grants.add(
            new Grant(
                protocol,
                from,
                to,
                request.string(prefix + ".Ipv6Ranges." + r + ".CidrIpv6").get()));
      }
      for (int g = 1;
          request.string(prefix + ".Groups." + g + ".GroupId").isPresent()
              || request.string(prefix + ".Groups." + g + ".GroupName").isPresent();
          g++) {
        String groupId = request.string(prefix + ".Groups." + g + ".GroupId").orElse(null);
        String groupName =
            groupId == null
                ? request.string(prefix + ".Groups." + g + ".GroupName").orElseThrow()
                : nameOfId.get(groupId);
        if (groupName == null) {
          throw notFound(groupId);
        }
        grants.add(new Grant(protocol, from, to, groupName));
      }
      if (grants.size() == before) {
        throw new Ec2Exception(
            400,
            "InvalidParameterValue",
            "IpPermissions." + i + " names no peer: give IpRanges, Ipv6Ranges or Groups");
      }
    }
    if (grants.isEmpty()) {
      throw new Ec2Exception(
          400, "MissingParameter", "The request must contain IpPermissions (or IpProtocol)");
    }
    return grants;
  }

  private static List<Grant> grants(List<SecurityGroupRule> rules) {
    List<Grant> grants = new ArrayList<>();
    for (SecurityGroupRule rule : rules == null ? List.<SecurityGroupRule>of() : rules) {
      Integer to = rule.toPort() == null ? rule.fromPort() : rule.toPort();
      for (String cidr : Objects.requireNonNullElse(rule.cidrBlocks(), List.<String>of())) {
        grants.add(new Grant(rule.protocol(), rule.fromPort(), to, cidr));
      }
      for (String group : Objects.requireNonNullElse(rule.securityGroups(), List.<String>of())) {
        grants.add(new Grant(rule.protocol(), rule.fromPort(), to, group));
      }
    }
    return grants;
  }

  /** Grants as rules, one per protocol and port range, in the order the grants came. */
  private static List<SecurityGroupRule> rules(Iterable<Grant> grants) {
    Map<List<Object>, List<Grant>> byPorts = new LinkedHashMap<>();
    for (Grant grant : grants) {
      byPorts
          .computeIfAbsent(
              Arrays.asList(grant.protocol(), grant.fromPort(), grant.toPort()),
              k -> new ArrayList<>())
          .add(grant);
    }
    List<SecurityGroupRule> rules = new ArrayList<>();
    for (List<Grant> same : byPorts.values()) {
      Grant first = same.get(0);
      rules.add(
          new SecurityGroupRule(
              first.protocol(),
              first.fromPort(),
              Objects.equals(first.toPort(), first.fromPort()) ? null : first.toPort(),
              same.stream().filter(g -> !g.isGroup()).map(Grant::peer).toList(),
              same.stream().filter(Grant::isGroup).map(Grant::peer).toList()));
    }
    return rules;
  }

  private static void permissions(
      Ec2Xml xml, String name, List<SecurityGroupRule> rules, Map<String, String> idOf) {
    xml.items(
        name,
        rules == null ? List.<SecurityGroupRule>of() : rules,
        (item, rule) -> {
          List<String> cidrs = Objects.requireNonNullElse(rule.cidrBlocks(), List.of());
          item.text("ipProtocol", rule.protocol() == Protocol.all ? "-1" : rule.protocol().name())
              .text("fromPort", rule.fromPort())
              .text("toPort", rule.toPort() == null ? rule.fromPort() : rule.toPort())
              .items(
                  "groups",
                  Objects.requireNonNullElse(rule.securityGroups(), List.<String>of()),
                  (g, group) -> g.text("groupId", idOf.get(group)).text("groupName", group))
              .items(
                  "ipRanges",
                  cidrs.stream().filter(c -> !c.contains(":")).toList(),
                  (r, cidr) -> r.text("cidrIp", cidr))
              .items(
                  "ipv6Ranges",
                  cidrs.stream().filter(c -> c.contains(":")).toList(),
                  (r, cidr) -> r.text("cidrIpv6", cidr));
        });
  }

  /** EC2's protocol names and numbers, for the protocols a NetworkPolicy can carry. */
  private static Protocol protocol(String value) {
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "-1", "all" -> Protocol.all;
      case "tcp", "6" -> Protocol.tcp;
      case "udp", "17" -> Protocol.udp;
      case "sctp", "132" -> Protocol.sctp;
      default ->
          throw new Ec2Exception(
              400,
              "InvalidParameterValue",
              "IpProtocol "
                  + value
                  + " is not supported: Kubernetes NetworkPolicies carry tcp, udp and sctp, or"
                  + " all (-1)");
    };
  }

  private static Integer port(Ec2Request request, String name, Protocol protocol) {
    if (protocol == Protocol.all) {
      return null; // EC2 ignores ports for all protocols
    }
    String value =
        request
            .string(name)
            .orElseThrow(
                () ->
                    new Ec2Exception(
                        400, "MissingParameter", name + " is required for " + protocol));
    try {
      return Integer.valueOf(value);
    } catch (NumberFormatException e) {
      throw new Ec2Exception(400, "InvalidParameterValue", name + " must be a port, was " + value);
    }
  }

  /** The group that GroupId or GroupName names. */
  private static SecurityGroup named(KubernetesClient caller, AccessKey key, Ec2Request request) {
    String id = request.string("GroupId").orElse(null);
    String name = request.string("GroupName").orElse(null);
    if (id == null && name == null) {
      throw new Ec2Exception(
          400, "MissingParameter", "The request must contain GroupId or GroupName");
    }
    return groups(caller, key).stream()
        .filter(g -> id == null ? g.getMetadata().getName().equals(name) : id(g).equals(id))
        .findFirst()
        .orElseThrow(() -> notFound(id == null ? name : id));
  }

  private static List<SecurityGroup> groups(KubernetesClient caller, AccessKey key) {
    return caller.resources(SecurityGroup.class).inNamespace(key.namespace()).list().getItems();
  }

  private static String id(SecurityGroup group) {
    return Names.securityGroupId(group.getMetadata().getUid());
  }

  private static Ec2Exception notFound(String group) {
    return new Ec2Exception(
        400, "InvalidGroup.NotFound", "The security group '" + group + "' does not exist");
  }

  private static String required(Ec2Request request, String name) {
    return request
        .string(name)
        .orElseThrow(
            () -> new Ec2Exception(400, "MissingParameter", "The request must contain " + name));
  }
}
