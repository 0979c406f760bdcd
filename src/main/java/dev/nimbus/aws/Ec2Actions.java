package dev.nimbus.aws;

import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.capacitypool.PoolModels;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The EC2 actions Nimbus answers, each a read or write of Nimbus objects made with the caller's
 * client (the key's identity, impersonated: RBAC decides). Returns the response's XML.
 */
final class Ec2Actions {
  /** The actions {@link #answer} serves: the values the metrics' action label may take. */
  static final Set<String> ACTIONS =
      Set.of(
          "DescribeInstanceTypes",
          "RunInstances",
          "DescribeInstances",
          "TerminateInstances",
          "StopInstances",
          "StartInstances",
          "RebootInstances",
          "ImportKeyPair",
          "DescribeKeyPairs",
          "DeleteKeyPair",
          "CreateSecurityGroup",
          "DescribeSecurityGroups",
          "AuthorizeSecurityGroupIngress",
          "RevokeSecurityGroupIngress",
          "DeleteSecurityGroup");

  private Ec2Actions() {}

  static String answer(
      KubernetesClient caller,
      ServerViews views,
      AccessKey key,
      Ec2Request request,
      String requestId) {
    String action = request.action();
    return switch (action) {
      case "DescribeInstanceTypes" -> describeInstanceTypes(caller, request, requestId);
      case "RunInstances" -> Ec2Instances.runInstances(caller, key, request, requestId);
      case "DescribeInstances" ->
          Ec2Instances.describeInstances(caller, views, key, request, requestId);
      case "TerminateInstances" -> Ec2Instances.terminateInstances(caller, key, request, requestId);
      case "StopInstances" -> Ec2Instances.setRunning(caller, key, request, requestId, false);
      case "StartInstances" -> Ec2Instances.setRunning(caller, key, request, requestId, true);
      case "RebootInstances" -> Ec2Instances.rebootInstances(caller, key, request, requestId);
      case "ImportKeyPair" -> Ec2KeyPairs.importKeyPair(caller, key, request, requestId);
      case "DescribeKeyPairs" -> Ec2KeyPairs.describeKeyPairs(caller, key, request, requestId);
      case "DeleteKeyPair" -> Ec2KeyPairs.deleteKeyPair(caller, key, request, requestId);
      case "CreateSecurityGroup" ->
          Ec2SecurityGroups.createSecurityGroup(caller, key, request, requestId);
      case "DescribeSecurityGroups" ->
          Ec2SecurityGroups.describeSecurityGroups(caller, key, request, requestId);
      case "AuthorizeSecurityGroupIngress" ->
          Ec2SecurityGroups.authorizeIngress(caller, key, request, requestId);
      case "RevokeSecurityGroupIngress" ->
          Ec2SecurityGroups.revokeIngress(caller, key, request, requestId);
      case "DeleteSecurityGroup" ->
          Ec2SecurityGroups.deleteSecurityGroup(caller, key, request, requestId);
      default ->
          throw new Ec2Exception(
              400,
              "InvalidAction",
              "The action "
                  + action
                  + " is not valid for this web service (docs/aws-api.md lists what Nimbus"
                  + " answers).");
    };
  }

  /** The InstanceTypes, all or those named by {@code InstanceType.N}, in EC2's shape. */
  private static String describeInstanceTypes(
      KubernetesClient caller, Ec2Request request, String requestId) {
    List<String> named = request.list("InstanceType");
    List<InstanceType> types =
        caller.resources(InstanceType.class).list().getItems().stream()
            .filter(t -> named.isEmpty() || named.contains(t.getMetadata().getName()))
            .sorted(Comparator.comparing(t -> t.getMetadata().getName()))
            .toList();
    Set<String> found =
        types.stream().map(t -> t.getMetadata().getName()).collect(Collectors.toSet());
    List<String> missing = named.stream().filter(n -> !found.contains(n)).toList();
    if (!missing.isEmpty()) {
      throw new Ec2Exception(
          400,
          "InvalidInstanceType",
          "The following supplied instance types do not exist: " + missing);
    }
    return Ec2Xml.response(
        "DescribeInstanceTypes",
        requestId,
        xml ->
            xml.items(
                "instanceTypeSet",
                types,
                (item, type) ->
                    item.text("instanceType", type.getMetadata().getName())
                        .text("currentGeneration", true)
                        .items("supportedUsageClasses", List.of("on-demand"), Ec2Actions::value)
                        .items("supportedRootDeviceTypes", List.of("ebs"), Ec2Actions::value)
                        .items("supportedVirtualizationTypes", List.of("hvm"), Ec2Actions::value)
                        .text("bareMetal", false)
                        .element(
                            "processorInfo",
                            p ->
                                p.items(
                                    "supportedArchitectures", List.of("x86_64"), Ec2Actions::value))
                        .element(
                            "vCpuInfo",
                            v ->
                                v.text("defaultVCpus", type.getSpec().vcpus())
                                    .text("defaultCores", type.getSpec().vcpus())
                                    .text("defaultThreadsPerCore", 1))
                        .element(
                            "memoryInfo",
                            m ->
                                m.text(
                                    "sizeInMiB",
                                    PoolModels.instanceBytes(type.getSpec().memory()) >> 20))));
  }

  /** A list item that is a bare value: {@code <item>value</item>}'s content. */
  private static void value(Ec2Xml item, String value) {
    item.content(value);
  }
}
