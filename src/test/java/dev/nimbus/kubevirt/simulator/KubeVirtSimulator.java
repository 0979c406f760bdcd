package dev.nimbus.kubevirt.simulator;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Stands in for KubeVirt's virt-controller and virt-handler in the local cluster, which has no KVM
 * and no virt-launcher. For every {@code kubevirt.io/v1} VirtualMachine whose run strategy says
 * run, it creates a VirtualMachineInstance and a launcher pod with the VM's resource requests plus
 * one {@code devices.kubevirt.io/kvm}, so that the real kube-scheduler places it and KWOK runs it.
 * It then reports what KubeVirt would: the VMI's phase, node and IP, and the VM's printableStatus
 * and readiness. Halting deletes the VMI; deleting the VM leaves the rest to the garbage collector,
 * through owner references.
 *
 * <p>It must not be mistaken for KubeVirt: it boots nothing, and reads only the fields that
 * placement needs (resources, node selector, affinity, tolerations, labels).
 */
public final class KubeVirtSimulator implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(KubeVirtSimulator.class.getName());
  static final String API_VERSION = "kubevirt.io/v1";
  static final String LAUNCHER_LABEL = "kubevirt.io";
  static final String VM_NAME_LABEL = "vm.kubevirt.io/name";
  static final String KVM_DEVICE = "devices.kubevirt.io/kvm";

  private static final ResourceDefinitionContext VM =
      new ResourceDefinitionContext.Builder()
          .withGroup("kubevirt.io")
          .withVersion("v1")
          .withKind("VirtualMachine")
          .withPlural("virtualmachines")
          .withNamespaced(true)
          .build();
  private static final ResourceDefinitionContext VMI =
      new ResourceDefinitionContext.Builder()
          .withGroup("kubevirt.io")
          .withVersion("v1")
          .withKind("VirtualMachineInstance")
          .withPlural("virtualmachineinstances")
          .withNamespaced(true)
          .build();

  private final KubernetesClient client;
  private final KubernetesSerialization json;
  private static final int WORKERS = 4;

  /**
   * Keys to simulate, as client-go's work queue: a key waits at most once, and is never worked on
   * by two workers at a time (a key changed while worked on goes back once its work is done).
   */
  private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();

  private final Set<String> dirty = new HashSet<>();
  private final Set<String> processing = new HashSet<>();
  private final SharedIndexInformer<GenericKubernetesResource> vms;
  private final SharedIndexInformer<GenericKubernetesResource> vmis;
  private final SharedIndexInformer<Pod> launchers;
  private final List<Thread> workers = new ArrayList<>();

  public KubeVirtSimulator(KubernetesClient client) {
    this.client = client;
    this.json = client.getKubernetesSerialization();
    vms = client.genericKubernetesResources(VM).inAnyNamespace().inform(enqueue(vm -> key(vm)));
    vmis = client.genericKubernetesResources(VMI).inAnyNamespace().inform(enqueue(vmi -> key(vmi)));
    launchers =
        client
            .pods()
            .inAnyNamespace()
            .withLabel(LAUNCHER_LABEL, "virt-launcher")
            .inform(
                enqueue(
                    pod ->
                        pod.getMetadata().getNamespace()
                            + "/"
                            + pod.getMetadata().getLabels().get(VM_NAME_LABEL)));
    for (int i = 0; i < WORKERS; i++) {
      Thread worker = new Thread(this::work, "kubevirt-simulator-" + i);
      worker.setDaemon(true);
      worker.start();
      workers.add(worker);
    }
    LOG.info("KubeVirt simulator started");
  }

  private static String key(io.fabric8.kubernetes.api.model.HasMetadata object) {
    return Cache.metaNamespaceKeyFunc(object);
  }

  private <T> ResourceEventHandler<T> enqueue(Function<T, String> keyOf) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T object) {
        add(keyOf.apply(object));
      }

      @Override
      public void onUpdate(T before, T after) {
        add(keyOf.apply(after));
      }

      @Override
      public void onDelete(T object, boolean unknownFinalState) {
        add(keyOf.apply(object));
      }
    };
  }

  private synchronized void add(String key) {
    if (dirty.add(key) && !processing.contains(key)) {
      queue.add(key);
    }
  }

  private synchronized void started(String key) {
    processing.add(key);
    dirty.remove(key);
  }

  private synchronized void done(String key) {
    processing.remove(key);
    if (dirty.contains(key)) {
      queue.add(key);
    }
  }

  private void work() {
    while (!Thread.currentThread().isInterrupted()) {
      String key;
      try {
        key = queue.take();
      } catch (InterruptedException e) {
        return;
      }
      started(key);
      try {
        reconcile(key);
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          add(key); // a write raced the informer's cache: try again with a fresher view
        } else if (e.getCode() != 404 && e.getCode() != 403) {
          // 404 and 403 come from objects and namespaces being deleted meanwhile.
          LOG.log(Level.WARNING, "simulating " + key + " failed: " + e.getMessage(), e);
        }
      } catch (RuntimeException e) {
        LOG.warning("simulating " + key + " failed: " + e);
      } finally {
        done(key);
      }
    }
  }

  private void reconcile(String key) {
    GenericKubernetesResource vm = vms.getStore().getByKey(key);
    GenericKubernetesResource vmi = vmis.getStore().getByKey(key);
    if (vm == null || vm.getMetadata().getDeletionTimestamp() != null) {
      return; // owner references let the garbage collector remove the VMI and its pod
    }
    String[] namespaceAndName = key.split("/", 2);
    Pod launcher = launcherOf(namespaceAndName[0], namespaceAndName[1]);
    if (shouldRun(vm)) {
      if (vmi == null) {
        vmi = client.genericKubernetesResources(VMI).resource(vmiFor(vm)).create();
      }
      if (launcher == null && vmi.getMetadata().getDeletionTimestamp() == null) {
        launcher = client.pods().resource(launcherFor(vm, vmi)).create();
      }
      reportRunning(vm, vmi, launcher);
    } else {
      if (vmi != null && vmi.getMetadata().getDeletionTimestamp() == null) {
        client.genericKubernetesResources(VMI).resource(vmi).delete();
      }
      updateVmStatus(vm, vmi == null ? "Stopped" : "Stopping", false);
    }
  }

  private Pod launcherOf(String namespace, String vmName) {
    return launchers.getStore().list().stream()
        .filter(p -> p.getMetadata().getNamespace().equals(namespace))
        .filter(p -> vmName.equals(p.getMetadata().getLabels().get(VM_NAME_LABEL)))
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .findFirst()
        .orElse(null);
  }

  /** KubeVirt's run strategies: Always and RerunOnFailure run; so does the older running: true. */
  static boolean shouldRun(GenericKubernetesResource vm) {
    Object strategy = vm.get("spec", "runStrategy");
    if (strategy != null) {
      return strategy.equals("Always") || strategy.equals("RerunOnFailure");
    }
    return Boolean.TRUE.equals(vm.get("spec", "running"));
  }

  private GenericKubernetesResource vmiFor(GenericKubernetesResource vm) {
    Map<String, Object> template = vm.get("spec", "template");
    Map<String, Object> templateMetadata =
        template == null ? Map.of() : map(template.getOrDefault("metadata", Map.of()));
    Map<String, Object> templateSpec =
        template == null ? Map.of() : map(template.getOrDefault("spec", Map.of()));
    return new GenericKubernetesResourceBuilder()
        .withApiVersion(API_VERSION)
        .withKind("VirtualMachineInstance")
        .withNewMetadata()
        .withName(vm.getMetadata().getName())
        .withNamespace(vm.getMetadata().getNamespace())
        .withLabels(stringMap(templateMetadata.get("labels")))
        .withAnnotations(stringMap(templateMetadata.get("annotations")))
        .withOwnerReferences(ownerReference(vm, "VirtualMachine"))
        .endMetadata()
        .withAdditionalProperties(
            Map.of("spec", templateSpec, "status", Map.of("phase", "Pending")))
        .build();
  }

  private Pod launcherFor(GenericKubernetesResource vm, GenericKubernetesResource vmi) {
    Map<String, Object> spec = vmi.get("spec");
    Map<String, Object> domain = map(spec.getOrDefault("domain", Map.of()));
    Map<String, Object> resources = map(domain.getOrDefault("resources", Map.of()));
    Map<String, Quantity> requests = quantities(resources.get("requests"));
    Map<String, Quantity> limits = quantities(resources.get("limits"));
    requests.put(KVM_DEVICE, new Quantity("1"));
    limits.put(KVM_DEVICE, new Quantity("1"));
    Map<String, String> labels = new LinkedHashMap<>(stringMap(vmi.getMetadata().getLabels()));
    labels.put(LAUNCHER_LABEL, "virt-launcher");
    labels.put(VM_NAME_LABEL, vm.getMetadata().getName());
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            // One name per VMI, not KubeVirt's generated one: several workers may see the same
            // VMI before the launcher cache does, and the second create must conflict, not
            // duplicate.
            .withName(
                "virt-launcher-"
                    + vm.getMetadata().getName()
                    + "-"
                    + vmi.getMetadata().getUid().substring(0, 8))
            .withNamespace(vm.getMetadata().getNamespace())
            .withLabels(labels)
            .withOwnerReferences(ownerReference(vmi, "VirtualMachineInstance"))
            .endMetadata()
            .withNewSpec()
            .withRestartPolicy("Never")
            .withAutomountServiceAccountToken(false)
            .addNewContainer()
            .withName("compute")
            .withImage("quay.io/kubevirt/virt-launcher:stand-in")
            .withResources(
                new ResourceRequirementsBuilder().withRequests(requests).withLimits(limits).build())
            .endContainer()
            .endSpec()
            .build();
    Map<String, Object> placement = new HashMap<>();
    for (String field : List.of("nodeSelector", "affinity", "tolerations")) {
      if (spec.get(field) != null) {
        placement.put(field, spec.get(field));
      }
    }
    if (!placement.isEmpty()) {
      Map<String, Object> podSpec = json.convertValue(pod.getSpec(), Map.class);
      podSpec.putAll(placement);
      pod.setSpec(json.convertValue(podSpec, io.fabric8.kubernetes.api.model.PodSpec.class));
    }
    return pod;
  }

  private void reportRunning(GenericKubernetesResource vm, GenericKubernetesResource vmi, Pod pod) {
    String phase = "Scheduling";
    String printable = "Starting";
    String node = null;
    String ip = null;
    if (pod != null && pod.getStatus() != null) {
      node = pod.getSpec().getNodeName();
      ip = pod.getStatus().getPodIP();
      if ("Running".equals(pod.getStatus().getPhase()) && ip != null) {
        phase = "Running";
        printable = "Running";
      } else if (unschedulable(pod)) {
        printable = "ErrorUnschedulable";
      } else if (node != null) {
        phase = "Scheduled";
      }
    }
    boolean ready = phase.equals("Running");
    Map<String, Object> vmiStatus = new LinkedHashMap<>();
    vmiStatus.put("phase", phase);
    if (node != null) {
      vmiStatus.put("nodeName", node);
    }
    if (ip != null) {
      vmiStatus.put(
          "interfaces",
          List.of(Map.of("name", "default", "ipAddress", ip, "ipAddresses", List.of(ip))));
    }
    vmiStatus.put("conditions", List.of(condition("Ready", ready)));
    if (!Objects.equals(vmi.get("status"), vmiStatus)) {
      // Informer caches hand out shared objects: change a copy, never the cached one.
      GenericKubernetesResource updated = json.clone(vmi);
      updated.setAdditionalProperty("status", vmiStatus);
      client.genericKubernetesResources(VMI).resource(updated).updateStatus();
    }
    updateVmStatus(vm, printable, ready);
  }

  private static boolean unschedulable(Pod pod) {
    return pod.getStatus().getConditions().stream()
        .anyMatch(
            c ->
                c.getType().equals("PodScheduled")
                    && c.getStatus().equals("False")
                    && "Unschedulable".equals(c.getReason()));
  }

  private void updateVmStatus(GenericKubernetesResource vm, String printable, boolean ready) {
    Map<String, Object> status = new LinkedHashMap<>();
    status.put("printableStatus", printable);
    status.put("ready", ready);
    status.put("created", !printable.equals("Stopped"));
    status.put("conditions", List.of(condition("Ready", ready)));
    Map<String, Object> current = vm.get("status");
    if (current != null
        && printable.equals(current.get("printableStatus"))
        && Objects.equals(ready, current.get("ready"))
        && Objects.equals(status.get("created"), current.get("created"))) {
      return; // the conditions follow from these three
    }
    GenericKubernetesResource updated = json.clone(vm);
    updated.setAdditionalProperty("status", status);
    client.genericKubernetesResources(VM).resource(updated).updateStatus();
  }

  private static Map<String, Object> condition(String type, boolean status) {
    return Map.of(
        "type",
        type,
        "status",
        status ? "True" : "False",
        "lastTransitionTime",
        Instant.now().toString());
  }

  private static OwnerReference ownerReference(
      io.fabric8.kubernetes.api.model.HasMetadata owner, String kind) {
    return new OwnerReferenceBuilder()
        .withApiVersion(API_VERSION)
        .withKind(kind)
        .withName(owner.getMetadata().getName())
        .withUid(owner.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object value) {
    return value instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  private static Map<String, String> stringMap(Object value) {
    Map<String, String> out = new LinkedHashMap<>();
    map(value).forEach((k, v) -> out.put(k, String.valueOf(v)));
    return out;
  }

  private static Map<String, Quantity> quantities(Object value) {
    Map<String, Quantity> out = new LinkedHashMap<>();
    map(value).forEach((k, v) -> out.put(k, new Quantity(String.valueOf(v))));
    return out;
  }

  @Override
  public void close() {
    workers.forEach(Thread::interrupt);
    vms.close();
    vmis.close();
    launchers.close();
  }

  /** Runs the simulator against the cluster of a kubeconfig until the process is stopped. */
  public static void main(String[] args) throws Exception {
    String kubeconfig = args.length > 0 ? args[0] : System.getenv("KUBECONFIG");
    Config config = Config.fromKubeconfig(Files.readString(Path.of(kubeconfig)));
    try (var client = new KubernetesClientBuilder().withConfig(config).build();
        var simulator = new KubeVirtSimulator(client)) {
      Thread.currentThread().join();
    }
  }
}
