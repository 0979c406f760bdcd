package dev.nimbus.virtualserver;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.AccessCredential;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.CloudInitNoCloud;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.ContainerDisk;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Cpu;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Devices;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Disk;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.DiskTarget;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Domain;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Interface;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Memory;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Network;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Resources;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.SecretReference;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.SecretSource;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Source;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.SshPublicKey;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec.Volume;
import dev.nimbus.kubevirt.VirtualMachineSpec;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.Links;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The KubeVirt VirtualMachine that runs one instance of a VirtualServer, built from the server and
 * the instance's placement in the ledger: the node it holds and what it holds there. The guest gets
 * the vCPUs and memory that admission reserved (never the InstanceType as it reads now, which could
 * have been replaced); the launcher pod requests that demand divided by the node's ratios, so the
 * scheduler's view of the node matches the ledger's. User data and the SSH key come from Secrets,
 * never inline.
 */
public final class ServerVm {
  static final String ROOT_DISK = "rootdisk";
  static final String CLOUD_INIT_DISK = "cloudinitdisk";

  /** What the NoCloud disk holds for a server with a key and no user data. */
  static final String EMPTY_CLOUD_CONFIG = "#cloud-config\n";

  static final String NETWORK = "default";

  /** x86_64 as nodes and KubeVirt name it. */
  static final String X86_64 = "amd64";

  /** The least guest memory KubeVirt hot-plugs into, and the block it hot-plugs in. */
  static final long MEMORY_HOTPLUG_MINIMUM = 1L << 30;

  static final long MEMORY_HOTPLUG_BLOCK = 2L << 20;

  /** Writes maps with their keys in order, so that equal trees write equal JSON. */
  private static final ObjectMapper CANONICAL =
      JsonMapper.builder().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).build();

  /**
   * What KubeVirt's admission adds to every VM's template (virt-api's VM mutator, v1.7: the
   * firmware's UUID and serial at create, the architecture and the machine type at every write).
   */
  private static final List<List<String>> KUBEVIRT_DEFAULTS =
      List.of(
          List.of("spec", "architecture"),
          List.of("spec", "domain", "firmware"),
          List.of("spec", "domain", "machine"));

  private ServerVm() {}

  public static VirtualMachine desired(
      VirtualServer server, int index, LedgerEntry.Placement placement, Node node) {
    var spec = server.getSpec();
    String name = server.getMetadata().getName();
    // The demand admission reserved for this instance.
    Amounts demand = Amounts.of(placement.cpu(), placement.memory(), placement.ephemeralStorage());
    Amounts requests = node.requestsFor(demand);

    Domain domain = new Domain();
    domain.cpu = new Cpu();
    domain.cpu.cores = (int) (placement.cpu() / 1000);
    domain.memory = new Memory();
    domain.memory.guest = new Quantity(memory(placement.memory()));
    // No room to hot-plug vCPUs or memory that were never admitted: KubeVirt's default rollout
    // (LiveUpdate) gives a running guest up to four times its sockets and memory when the VM is
    // raised, unless the VM sets the maximum.
    domain.cpu.maxSockets = 1;
    // Memory is hot-plugged on x86_64 only, and virt-api judges a maximum against the architecture
    // the VM names: a VM on an x86_64 node names it. Any other is left to virt-api's default, as
    // naming one other than the control plane's takes KubeVirt's MultiArchitecture gate.
    String architecture =
        X86_64.equals(node.labels().get(Names.ARCHITECTURE_LABEL)) ? X86_64 : null;
    if (memoryHotPluggable(architecture, placement.memory())) {
      domain.memory.maxGuest = domain.memory.guest;
    }
    domain.resources = new Resources();
    domain.resources.requests =
        Map.of(
            "cpu", new Quantity(requests.get(Resource.CPU) + "m"),
            "memory", new Quantity(Long.toString(requests.get(Resource.MEMORY))));
    domain.devices = new Devices();
    domain.devices.disks = new ArrayList<>(List.of(disk(ROOT_DISK)));
    Interface nic = new Interface();
    nic.name = NETWORK;
    nic.masquerade = Map.of();
    domain.devices.interfaces = List.of(nic);

    VirtualMachineInstanceSpec template = new VirtualMachineInstanceSpec();
    template.domain = domain;
    template.networks = List.of(network());
    template.volumes = new ArrayList<>(List.of(rootVolume(spec.image())));
    // KubeVirt hands the SSH key to the guest through the NoCloud disk, so a key needs that disk
    // even when there is no user data: then it holds an empty cloud-config.
    if (spec.userData() != null || spec.keyName() != null) {
      domain.devices.disks.add(disk(CLOUD_INIT_DISK));
      template.volumes.add(cloudInitVolume(name, spec.userData() != null));
    }
    if (spec.keyName() != null) {
      template.accessCredentials = List.of(sshKey(name));
    }
    template.nodeSelector = Map.of(Names.KVM_NODE_LABEL, "true");
    template.architecture = architecture;
    template.affinity = Links.pinnedTo(node.name());

    VirtualMachineSpec.Template vmTemplate = new VirtualMachineSpec.Template();
    vmTemplate.metadata =
        new ObjectMetaBuilder()
            .withLabels(labels(server, index))
            .withAnnotations(templateAnnotations(server, node.name()))
            .build();
    vmTemplate.spec = template;
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(
        new ObjectMetaBuilder()
            .withName(Names.serverVm(name, index))
            .withNamespace(server.getMetadata().getNamespace())
            .withLabels(labels(server, index))
            .withOwnerReferences(Links.controlledBy(server))
            .build());
    vm.getSpec().runStrategy =
        Boolean.FALSE.equals(spec.running())
            ? VirtualMachine.RUN_HALTED
            : VirtualMachine.RUN_ALWAYS;
    vm.getSpec().template = vmTemplate;
    return vm;
  }

  /**
   * What a VMI is started for: its size and node, and the latest restart asked of its server. A VMI
   * started for other values is restarted ({@link ServerVms#restartChanged}).
   */
  /** The node {@code vm}'s template pins its instance to. */
  static Optional<String> pinnedNode(VirtualMachine vm) {
    return vm.getSpec() == null
            || vm.getSpec().template == null
            || vm.getSpec().template.spec == null
        ? Optional.empty()
        : Links.pinnedNode(vm.getSpec().template.spec.affinity);
  }

  private static Map<String, String> templateAnnotations(VirtualServer server, String node) {
    Map<String, String> annotations = new TreeMap<>();
    annotations.put(Names.PLACEMENT_ANNOTATION, server.getSpec().instanceType() + "@" + node);
    if (server.getSpec().restartedAt() != null) {
      annotations.put(Names.RESTARTED_AT_ANNOTATION, server.getSpec().restartedAt());
    }
    return annotations;
  }

  /** The VM's and its launcher pod's labels: owner, index, and one per security group. */
  static Map<String, String> labels(VirtualServer server, int index) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(Names.MANAGED_BY, "nimbus");
    labels.put(Names.VIRTUAL_SERVER_LABEL, server.getMetadata().getName());
    labels.put(Names.INSTANCE_INDEX_LABEL, Integer.toString(index));
    if (server.getSpec().securityGroups() != null) {
      server.getSpec().securityGroups().forEach(g -> labels.put(Names.securityGroupLabel(g), ""));
    }
    return labels;
  }

  private static Disk disk(String name) {
    Disk disk = new Disk();
    disk.name = name;
    disk.disk = new DiskTarget();
    disk.disk.bus = "virtio";
    return disk;
  }

  private static Network network() {
    Network network = new Network();
    network.name = NETWORK;
    network.pod = Map.of();
    return network;
  }

  private static Volume rootVolume(String image) {
    Volume volume = new Volume();
    volume.name = ROOT_DISK;
    volume.containerDisk = new ContainerDisk();
    volume.containerDisk.image = image;
    return volume;
  }

  /** The NoCloud disk: the server's user data from its Secret, or an empty cloud-config. */
  private static Volume cloudInitVolume(String server, boolean withUserData) {
    Volume volume = new Volume();
    volume.name = CLOUD_INIT_DISK;
    volume.cloudInitNoCloud = new CloudInitNoCloud();
    if (withUserData) {
      volume.cloudInitNoCloud.userDataSecretRef = new SecretReference();
      volume.cloudInitNoCloud.userDataSecretRef.name = Names.userDataSecret(server);
    } else {
      volume.cloudInitNoCloud.userData = EMPTY_CLOUD_CONFIG;
    }
    return volume;
  }

  private static AccessCredential sshKey(String server) {
    AccessCredential credential = new AccessCredential();
    credential.sshPublicKey = new SshPublicKey();
    credential.sshPublicKey.source = new Source();
    credential.sshPublicKey.source.secret = new SecretSource();
    credential.sshPublicKey.source.secret.secretName = Names.sshKeySecret(server);
    credential.sshPublicKey.propagationMethod = Map.of("noCloud", Map.of());
    return credential;
  }

  /**
   * Whether KubeVirt would give a guest of {@code bytes} on {@code architecture} room to hot-plug
   * memory, and so whether virt-api accepts a maximum for it: on x86_64 only, from 1Gi, in 2Mi
   * blocks (v1.7's {@code pkg/liveupdate/memory}). Elsewhere there is no room to close, and a
   * maximum would be refused.
   */
  static boolean memoryHotPluggable(String architecture, long bytes) {
    return X86_64.equals(architecture)
        && bytes >= MEMORY_HOTPLUG_MINIMUM
        && bytes % MEMORY_HOTPLUG_BLOCK == 0;
  }

  /** Bytes as the quantity an InstanceType would write: whole Gi or Mi where they are whole. */
  static String memory(long bytes) {
    long mi = 1024L * 1024;
    if (bytes % (1024 * mi) == 0) {
      return bytes / (1024 * mi) + "Gi";
    }
    return bytes % mi == 0 ? bytes / mi + "Mi" : Long.toString(bytes);
  }

  /**
   * A digest of a VM's template, as Nimbus compares the template a VM has with the one it wants:
   * without what KubeVirt's admission adds to every VM, and with its quantities as numbers (the
   * mutator writes the template back with Kubernetes' canonical quantities, 1Gi for 1024Mi). Equal
   * for the template Nimbus wrote and the one the API server stores of it; different once anyone
   * changed a field Nimbus sets, or added one.
   */
  public static String templateDigest(VirtualMachineSpec.Template template) {
    Map<String, Object> tree = CANONICAL.convertValue(template, new TypeReference<>() {});
    for (List<String> path : KUBEVIRT_DEFAULTS) {
      Map<String, Object> parent = object(tree, path.subList(0, path.size() - 1));
      if (parent != null) {
        parent.remove(path.get(path.size() - 1));
      }
    }
    Map<String, Object> domain = object(tree, List.of("spec", "domain"));
    if (domain != null) {
      quantityAsNumber(object(domain, List.of("memory")), "guest");
      for (String kind : List.of("requests", "limits")) {
        Map<String, Object> amounts = object(domain, List.of("resources", kind));
        if (amounts != null) {
          List.copyOf(amounts.keySet()).forEach(name -> quantityAsNumber(amounts, name));
        }
      }
    }
    try {
      return Names.digest(CANONICAL.writeValueAsString(tree));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a VM template as JSON", e);
    }
  }

  /** The JSON object at {@code path} under {@code tree}, or null where there is none. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> object(Map<String, Object> tree, List<String> path) {
    Map<String, Object> node = tree;
    for (String key : path) {
      if (node == null || !(node.get(key) instanceof Map<?, ?> child)) {
        return null;
      }
      node = (Map<String, Object>) child;
    }
    return node;
  }

  private static void quantityAsNumber(Map<String, Object> object, String key) {
    if (object != null && object.get(key) instanceof String amount) {
      try {
        object.put(
            key,
            Quantity.getAmountInBytes(new Quantity(amount)).stripTrailingZeros().toPlainString());
      } catch (IllegalArgumentException | ArithmeticException e) {
        // not a quantity: compared as written
      }
    }
  }
}
