package dev.nimbus.testing;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.InstanceTypeSpec;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.KeyPairSpec;
import dev.nimbus.api.v1alpha1.MachineImage;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.SecurityGroupRule;
import dev.nimbus.api.v1alpha1.SecurityGroupSpec;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Objects that tests and benchmarks set up: simulated nodes, pools and instance types. */
public final class Fixtures {
  private Fixtures() {}

  /** A KVM-capable node that KWOK keeps Ready, with the given labels, CPUs and memory. */
  public static Node kvmNode(String name, Map<String, String> labels, String cpu, String memory) {
    // What virt-handler's node labeller and device plugins put on a node with /dev/kvm, and
    // virt-controller's launcher pods select and request (as hack/cluster.sh's KVM nodes have).
    Map<String, String> kvmLabels = new HashMap<>(labels);
    kvmLabels.put("kubevirt.io/schedulable", "true");
    kvmLabels.put("machine-type.node.kubevirt.io/q35", "true");
    kvmLabels.put("kubernetes.io/arch", "amd64");
    return node(
        name,
        kvmLabels,
        cpu,
        memory,
        Map.of(
            "devices.kubevirt.io/kvm", new Quantity("1k"),
            "devices.kubevirt.io/tun", new Quantity("1k"),
            "devices.kubevirt.io/vhost-net", new Quantity("1k"),
            // Launcher pods ask for some: a node without any can run none.
            "ephemeral-storage", new Quantity("100Gi")));
  }

  /** A node without KVM that KWOK keeps Ready, as the plain group of the local cluster. */
  public static Node plainNode(String name, Map<String, String> labels, String cpu, String memory) {
    return node(name, labels, cpu, memory, Map.of());
  }

  private static Node node(
      String name,
      Map<String, String> labels,
      String cpu,
      String memory,
      Map<String, Quantity> devices) {
    Map<String, Quantity> capacity = new HashMap<>(devices);
    capacity.put("cpu", new Quantity(cpu));
    capacity.put("memory", new Quantity(memory));
    capacity.put("pods", new Quantity("500"));
    return new NodeBuilder()
        .withNewMetadata()
        .withName(name)
        .addToAnnotations("kwok.x-k8s.io/node", "fake")
        .addToLabels("type", "kwok")
        .addToLabels("kubernetes.io/hostname", name)
        .addToLabels(labels)
        .endMetadata()
        .withNewStatus()
        .addToCapacity(capacity)
        .addToAllocatable(capacity)
        .endStatus()
        .build();
  }

  /** A pool of the nodes labelled {@code key=value}, ratio 1, nothing reserved, for servers. */
  public static CapacityPool serverPool(String name, String key, String value) {
    return pool(name, key, value, CapacityPoolSpec.WorkloadKind.VirtualServer);
  }

  /**
   * A pool of the nodes labelled {@code key=value}, ratio 1, nothing reserved, for {@code kind}.
   */
  public static CapacityPool pool(
      String name, String key, String value, CapacityPoolSpec.WorkloadKind kind) {
    CapacityPool pool = new CapacityPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).build());
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels(key, value).build(),
            new PoolRatios(1.0, 1.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(kind),
            null,
            null));
    return pool;
  }

  /** An ed25519 public key line that KeyPairs accept. */
  public static final String PUBLIC_KEY =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5pbWJ1cyB0ZXN0IGtleSBmb3IgaXRzIG93biB1c2Uh user@nimbus";

  /** The KeyPair {@code deployer} of {@code namespace}, holding {@link #PUBLIC_KEY}. */
  public static KeyPair keyPair(String namespace) {
    var key = new KeyPair();
    key.setMetadata(new ObjectMetaBuilder().withName("deployer").withNamespace(namespace).build());
    key.setSpec(new KeyPairSpec(PUBLIC_KEY));
    return key;
  }

  /** The SecurityGroup {@code web} of {@code namespace}: TCP 80 from anywhere. */
  public static SecurityGroup webGroup(String namespace) {
    var web = new SecurityGroup();
    web.setMetadata(new ObjectMetaBuilder().withName("web").withNamespace(namespace).build());
    web.setSpec(
        new SecurityGroupSpec(
            "web",
            List.of(
                new SecurityGroupRule(
                    SecurityGroupRule.Protocol.tcp, 80, null, List.of("0.0.0.0/0"), List.of())),
            null));
    return web;
  }

  public static InstanceType instanceType(String name, int vcpus, String memory) {
    InstanceType type = new InstanceType();
    type.setMetadata(new ObjectMetaBuilder().withName(name).build());
    type.setSpec(new InstanceTypeSpec(vcpus, memory, name));
    return type;
  }

  /** {@code spec} with other instance counts, as a user's scale changes it. */
  public static VirtualServerSpec withCounts(VirtualServerSpec spec, int minCount, int maxCount) {
    return new VirtualServerSpec(
        spec.image(),
        spec.instanceType(),
        minCount,
        maxCount,
        spec.keyName(),
        spec.securityGroups(),
        spec.userData(),
        spec.pool(),
        spec.running(),
        spec.terminationProtection());
  }

  /** Creates the namespace {@code name}, for a test that needs a second one; returns its name. */
  public static String namespace(KubernetesClient client, String name) {
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
    return name;
  }

  /** The MachineImage that deploy/samples registers: the seed's {@code ami-0c55b159cbfafe1f0}. */
  public static MachineImage sampleMachineImage(KubernetesClient client) {
    try {
      return client
          .getKubernetesSerialization()
          .unmarshal(
              Files.readString(
                  LocalCluster.projectDir().resolve("deploy/samples/04-machineimage.yaml")),
              MachineImage.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
