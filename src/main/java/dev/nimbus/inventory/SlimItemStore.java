package dev.nimbus.inventory;

import dev.nimbus.api.v1alpha1.ApiGroup;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.api.v1alpha1.VirtualServerStatus;
import dev.nimbus.kubevirt.KubeVirtCondition;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec;
import dev.nimbus.kubevirt.VirtualMachineInstanceStatus;
import dev.nimbus.kubevirt.VirtualMachineSpec;
import dev.nimbus.naming.Names;
import dev.nimbus.virtualserver.ServerVm;
import dev.nimbus.workload.Firewall;
import dev.nimbus.workload.Links;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeStatus;
import io.fabric8.kubernetes.api.model.NodeSystemInfo;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An informer's store that keeps only what Nimbus reads of each object, so that a replica's caches
 * grow with what it uses, not with who wrote it or how large a tenant made it. Dropped as objects
 * arrive: every object's managedFields (often the larger part of a small object); a node's list of
 * the images it holds; a pod's containers' command, args, environment and ports (a task's pods
 * carry up to 64 KiB of them, and Nimbus reads only a pod's node and status); and a NetworkPolicy's
 * spec (the rules of all the groups a workload names, up to 120 peers each), kept as its digest in
 * the annotation where Nimbus writes the digest of the spec it wants, so that a policy is rewritten
 * when its spec differs from the wanted one, whoever changed it; a VirtualMachineInstance's spec,
 * the labels and annotations that are not Nimbus' own, and its status but for its phase, node and
 * addresses; a VirtualMachine's template but for its metadata and the Secrets it names (kept as its
 * digest besides), and its status but for whether it is ready and its printable status.
 *
 * <p>Values that repeat from object to object (namespaces, label values, finalizers, a server's
 * image, instance type, user data and pool, condition texts, node names, the quantities and system
 * that nodes report) are kept as one String each ({@link String#intern()}, which forgets a value
 * once no object holds it): as read, each object holds its own copy, and at ten thousand servers
 * the copies were most of a replica's heap. Times are shared too (the API server writes them to the
 * second, and Nimbus its conditions' times: the objects of a burst share a few), and a server's
 * name and UID, which its VMs' owner references and labels repeat. What is each object's own alone
 * (most names and UIDs, versions) is kept as read.
 *
 * <p>{@link #namesOnly()} keeps a copy of an object's metadata without its annotations, for a
 * source that only says that something changed or went: a node's deletion, a ledger shard's change.
 * The object itself goes on whole to the informer's handlers, which may read more of it (which
 * workloads a shard holds for) and then let it go.
 */
public final class SlimItemStore<T extends HasMetadata> extends BasicItemStore<T> {
  private final boolean namesOnly;

  public SlimItemStore() {
    this(false);
  }

  private SlimItemStore(boolean namesOnly) {
    super(Cache::metaNamespaceKeyFunc);
    this.namesOnly = namesOnly;
  }

  /**
   * A store of objects reduced to their name, namespace, UID, version and labels: for a source
   * whose objects nobody reads, only their coming, change or going.
   */
  public static <T extends HasMetadata> SlimItemStore<T> namesOnly() {
    return new SlimItemStore<>(true);
  }

  @Override
  public T put(String key, T object) {
    object.getMetadata().setManagedFields(null);
    if (namesOnly) {
      return super.put(key, shared(namesOf(object)));
    }
    if (object instanceof VirtualMachineInstance vmi) {
      slim(vmi);
    }
    if (object instanceof VirtualMachine vm) {
      slim(vm);
    }
    if (object instanceof VirtualServer server) {
      share(server);
    }
    if (object instanceof Node node && node.getStatus() != null) {
      node.getStatus().setImages(null);
      share(node.getStatus());
    }
    if (object instanceof Pod pod && pod.getSpec() != null) {
      pod.getSpec().getContainers().forEach(SlimItemStore::dropWhatNimbusNeverReads);
      pod.getSpec().getInitContainers().forEach(SlimItemStore::dropWhatNimbusNeverReads);
    }
    if (object instanceof NetworkPolicy policy && policy.getSpec() != null) {
      policy.getMetadata().setAnnotations(Firewall.observedAnnotations(policy));
      policy.setSpec(null);
    }
    return super.put(key, shared(object));
  }

  /**
   * A names-only store cannot give back what it was given: the informer then hands its handlers the
   * objects of its first list as they came, instead of reading them back from the store once
   * listed.
   */
  @Override
  public boolean isFullState() {
    return !namesOnly;
  }

  /** A new object of {@code object}'s kind with only the metadata {@link #namesOnly()} keeps. */
  @SuppressWarnings("unchecked")
  private static <T extends HasMetadata> T namesOf(T object) {
    T copy;
    try {
      copy = (T) object.getClass().getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot copy a " + object.getKind(), e);
    }
    ObjectMeta meta = object.getMetadata();
    copy.setMetadata(
        new ObjectMetaBuilder()
            .withName(meta.getName())
            .withNamespace(meta.getNamespace())
            .withUid(meta.getUid())
            .withResourceVersion(meta.getResourceVersion())
            .withGeneration(meta.getGeneration())
            .withCreationTimestamp(meta.getCreationTimestamp())
            .withDeletionTimestamp(meta.getDeletionTimestamp())
            .withLabels(meta.getLabels())
            .build());
    copy.getMetadata().setAnnotations(null);
    copy.getMetadata().setOwnerReferences(null);
    copy.getMetadata().setFinalizers(null);
    if (copy instanceof Node node) {
      node.setSpec(null);
      node.setStatus(null);
    } else if (copy instanceof ConfigMap map) {
      map.setData(null);
      map.setBinaryData(null);
    }
    return copy;
  }

  /**
   * Keeps of a VMI what Nimbus reads: its Nimbus labels (which server and instance) and annotations
   * (the placement and restart it was started with), the UID of its controller (whose VM it is),
   * whether it is being deleted, its phase, its node, its addresses and whether it is Ready.
   * virt-controller's own labels, annotations and conditions, rewritten at every step of a start,
   * were most of a cached VMI.
   */
  private static void slim(VirtualMachineInstance vmi) {
    vmi.setSpec(null);
    ObjectMeta meta = vmi.getMetadata();
    meta.setLabels(nimbusOwn(meta.getLabels()));
    meta.setAnnotations(nimbusOwn(meta.getAnnotations()));
    meta.setOwnerReferences(Links.controller(vmi).map(SlimItemStore::controllerOnly).orElse(null));
    meta.setFinalizers(null);
    VirtualMachineInstanceStatus status = vmi.getStatus();
    if (status != null) {
      status.dropAdditionalProperties();
      status.conditions = readiness(status.conditions);
      status.phase = shared(status.phase);
      status.nodeName = shared(status.nodeName);
      if (status.interfaces != null) {
        List<VirtualMachineInstanceStatus.InterfaceStatus> addresses = new ArrayList<>();
        for (var seen : status.interfaces) {
          var kept = new VirtualMachineInstanceStatus.InterfaceStatus();
          kept.ipAddress = seen.ipAddress;
          addresses.add(kept);
        }
        status.interfaces = addresses;
      }
    }
  }

  /** An owner reference that says no more than which object is the controller. */
  private static List<OwnerReference> controllerOnly(String uid) {
    OwnerReference controller = new OwnerReference();
    controller.setUid(uid);
    controller.setController(true);
    controller.setAdditionalProperties(sharedIfEmpty(controller.getAdditionalProperties()));
    return List.of(controller);
  }

  /** The Ready condition alone, as its type and status. */
  private static List<KubeVirtCondition> readiness(List<KubeVirtCondition> conditions) {
    if (conditions == null) {
      return null;
    }
    for (KubeVirtCondition seen : conditions) {
      if ("Ready".equals(seen.type)) {
        KubeVirtCondition kept = new KubeVirtCondition();
        kept.type = "Ready";
        kept.status = shared(seen.status);
        return List.of(kept);
      }
    }
    return null;
  }

  private static Map<String, String> nimbusOwn(Map<String, String> keyed) {
    if (keyed == null) {
      return null;
    }
    Map<String, String> own = new LinkedHashMap<>();
    keyed.forEach(
        (key, value) -> {
          if (key.startsWith(ApiGroup.GROUP + "/")) {
            own.put(key, value);
          }
        });
    return own;
  }

  /**
   * Keeps of a VM its metadata, run strategy, template metadata (the placement and restart Nimbus
   * asked for) and the Secrets its template names (deleted once it names them no longer), and the
   * digest of its whole template as the annotation {@link
   * Names#OBSERVED_TEMPLATE_DIGEST_ANNOTATION}: Nimbus rewrites the template whole when it differs
   * from the wanted one, and stops a VM with a patch, so the rest is never read.
   */
  private static void slim(VirtualMachine vm) {
    VirtualMachineSpec.Template template = vm.getSpec() == null ? null : vm.getSpec().template;
    if (template != null) {
      Map<String, String> annotations =
          new HashMap<>(
              vm.getMetadata().getAnnotations() == null
                  ? Map.of()
                  : vm.getMetadata().getAnnotations());
      annotations.put(Names.OBSERVED_TEMPLATE_DIGEST_ANNOTATION, ServerVm.templateDigest(template));
      vm.getMetadata().setAnnotations(annotations);
    }
    if (template != null && template.spec != null) {
      VirtualMachineInstanceSpec kept = new VirtualMachineInstanceSpec();
      kept.volumes = template.spec.volumes;
      kept.accessCredentials = template.spec.accessCredentials;
      if (kept.volumes != null) {
        for (var volume : kept.volumes) {
          volume.name = shared(volume.name);
          if (volume.containerDisk != null) {
            volume.containerDisk.image = shared(volume.containerDisk.image);
          }
        }
      }
      template.spec = kept;
    }
    if (template != null && template.metadata != null) {
      share(template.metadata);
    }
    vm.getSpec().runStrategy = shared(vm.getSpec().runStrategy);
    if (vm.getStatus() != null) {
      vm.getStatus().dropAdditionalProperties();
      vm.getStatus().conditions = null;
      vm.getStatus().printableStatus = shared(vm.getStatus().printableStatus);
    }
  }

  /**
   * A server's values that repeat from server to server, shared; and its name and UID, which its
   * VMs' owner references and labels repeat.
   */
  private static void share(VirtualServer server) {
    server.getMetadata().setName(shared(server.getMetadata().getName()));
    server.getMetadata().setUid(shared(server.getMetadata().getUid()));
    VirtualServerSpec spec = server.getSpec();
    if (spec != null) {
      server.setSpec(
          new VirtualServerSpec(
              shared(spec.image()),
              shared(spec.instanceType()),
              spec.minCount(),
              spec.maxCount(),
              shared(spec.keyName()),
              shared(spec.securityGroups()),
              shared(spec.userData()),
              shared(spec.pool()),
              spec.running(),
              spec.terminationProtection(),
              spec.restartedAt()));
    }
    VirtualServerStatus status = server.getStatus();
    if (status != null) {
      if (status.conditions() != null) {
        status.conditions().forEach(SlimItemStore::share);
      }
      List<VirtualServerStatus.InstanceStatus> instances = null;
      if (status.instances() != null) {
        instances = new ArrayList<>(status.instances().size());
        for (var instance : status.instances()) {
          instances.add(
              new VirtualServerStatus.InstanceStatus(
                  instance.instanceId(),
                  instance.vmName(),
                  shared(instance.node()),
                  instance.privateIp(),
                  shared(instance.state())));
        }
      }
      server.setStatus(
          new VirtualServerStatus(
              status.observedGeneration(),
              status.conditions(),
              shared(status.pool()),
              status.desiredCount(),
              status.admittedCount(),
              status.readyCount(),
              instances));
    }
  }

  /**
   * What most nodes report alike: their quantities, conditions, addresses' types and system (a
   * thousand nodes of a few shapes).
   */
  private static void share(NodeStatus status) {
    share(status.getCapacity());
    share(status.getAllocatable());
    if (status.getConditions() != null) {
      for (NodeCondition condition : status.getConditions()) {
        condition.setType(shared(condition.getType()));
        condition.setStatus(shared(condition.getStatus()));
        condition.setReason(shared(condition.getReason()));
        condition.setMessage(shared(condition.getMessage()));
      }
    }
    if (status.getAddresses() != null) {
      status.getAddresses().forEach(address -> address.setType(shared(address.getType())));
    }
    NodeSystemInfo system = status.getNodeInfo();
    if (system != null) {
      system.setArchitecture(shared(system.getArchitecture()));
      system.setContainerRuntimeVersion(shared(system.getContainerRuntimeVersion()));
      system.setKernelVersion(shared(system.getKernelVersion()));
      system.setKubeProxyVersion(shared(system.getKubeProxyVersion()));
      system.setKubeletVersion(shared(system.getKubeletVersion()));
      system.setOperatingSystem(shared(system.getOperatingSystem()));
      system.setOsImage(shared(system.getOsImage()));
    }
  }

  private static void share(Map<String, Quantity> quantities) {
    if (quantities != null) {
      for (Quantity quantity : quantities.values()) {
        quantity.setAmount(shared(quantity.getAmount()));
        quantity.setFormat(shared(quantity.getFormat()));
      }
    }
  }

  private static void share(Condition condition) {
    condition.setAdditionalProperties(sharedIfEmpty(condition.getAdditionalProperties()));
    condition.setType(shared(condition.getType()));
    condition.setStatus(shared(condition.getStatus()));
    condition.setReason(shared(condition.getReason()));
    condition.setMessage(shared(condition.getMessage()));
    condition.setLastTransitionTime(shared(condition.getLastTransitionTime()));
  }

  /** {@code object} with the values of its metadata that repeat from object to object shared. */
  private static <T extends HasMetadata> T shared(T object) {
    share(object.getMetadata());
    return object;
  }

  private static void share(ObjectMeta meta) {
    meta.setAdditionalProperties(sharedIfEmpty(meta.getAdditionalProperties()));
    meta.setNamespace(shared(meta.getNamespace()));
    meta.setGenerateName(shared(meta.getGenerateName()));
    meta.setCreationTimestamp(shared(meta.getCreationTimestamp()));
    meta.setLabels(sharedValues(meta.getLabels()));
    meta.setAnnotations(sharedValues(meta.getAnnotations()));
    meta.setFinalizers(shared(meta.getFinalizers()));
    if (meta.getOwnerReferences() != null) {
      for (var owner : meta.getOwnerReferences()) {
        owner.setAdditionalProperties(sharedIfEmpty(owner.getAdditionalProperties()));
        owner.setApiVersion(shared(owner.getApiVersion()));
        owner.setKind(shared(owner.getKind()));
        owner.setName(shared(owner.getName()));
        owner.setUid(shared(owner.getUid()));
      }
    }
  }

  /**
   * The same entries, their values shared (the keys, as names of JSON fields, are shared as read),
   * in a read-only map no larger than its entries: a LinkedHashMap holds a table and 40 bytes per
   * entry, and a server's VM alone carries four such maps. Nothing writes to a cached object; a
   * change is made to a copy.
   */
  private static Map<String, String> sharedValues(Map<String, String> map) {
    if (map == null || map.isEmpty() || map.containsValue(null)) {
      return map;
    }
    Map<String, String> kept = new LinkedHashMap<>(map.size() * 4 / 3 + 1);
    map.forEach((key, value) -> kept.put(key, shared(value)));
    return Map.copyOf(kept);
  }

  /**
   * The map of a model object's undeclared fields, which almost all have empty: one empty map for
   * all of them, equal to the new one each object was read with, and never written to, since
   * nothing reads a cached object from JSON again.
   */
  private static Map<String, Object> sharedIfEmpty(Map<String, Object> undeclared) {
    return undeclared == null || undeclared.isEmpty() ? Map.of() : undeclared;
  }

  private static List<String> shared(List<String> values) {
    if (values == null || values.isEmpty()) {
      return values;
    }
    List<String> kept = new ArrayList<>(values.size());
    values.forEach(value -> kept.add(shared(value)));
    return kept;
  }

  private static String shared(String value) {
    return value == null ? null : value.intern();
  }

  private static void dropWhatNimbusNeverReads(Container container) {
    container.setCommand(null);
    container.setArgs(null);
    container.setEnv(null);
    container.setPorts(null);
  }
}
