package dev.nimbus.inventory;

import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec;
import dev.nimbus.kubevirt.VirtualMachineSpec;
import dev.nimbus.workload.Firewall;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;

/**
 * An informer's store that keeps only what Nimbus reads of each object, so that a replica's caches
 * grow with what it uses, not with who wrote it or how large a tenant made it. Dropped as objects
 * arrive: every object's managedFields (often the larger part of a small object); a node's list of
 * the images it holds; a pod's containers' command, args, environment and ports (a task's pods
 * carry up to 64 KiB of them, and Nimbus reads only a pod's node and status); and a NetworkPolicy's
 * spec (the rules of all the groups a workload names, up to 120 peers each), kept as its digest in
 * the annotation where Nimbus writes the digest of the spec it wants, so that a policy is rewritten
 * when its spec differs from the wanted one, whoever changed it; a VirtualMachineInstance's spec
 * and the status fields Nimbus does not model; a VirtualMachine's template but for its metadata and
 * the Secrets it names, and the status fields Nimbus does not model.
 *
 * <p>{@link #namesOnly()} keeps an object's metadata without its annotations, for a source that
 * only says that something changed or went: a node's deletion, a ledger shard's change.
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
      return super.put(key, reduced(object));
    }
    if (object instanceof VirtualMachineInstance vmi) {
      vmi.setSpec(null);
      if (vmi.getStatus() != null) {
        vmi.getStatus().additionalProperties().clear();
      }
    }
    if (object instanceof VirtualMachine vm) {
      slim(vm);
    }
    if (object instanceof Node node && node.getStatus() != null) {
      node.getStatus().setImages(null);
    }
    if (object instanceof Pod pod && pod.getSpec() != null) {
      pod.getSpec().getContainers().forEach(SlimItemStore::dropWhatNimbusNeverReads);
      pod.getSpec().getInitContainers().forEach(SlimItemStore::dropWhatNimbusNeverReads);
    }
    if (object instanceof NetworkPolicy policy && policy.getSpec() != null) {
      policy.getMetadata().setAnnotations(Firewall.observedAnnotations(policy));
      policy.setSpec(null);
    }
    return super.put(key, object);
  }

  /** {@code object} with only the metadata {@link #namesOnly()} keeps. */
  private static <T extends HasMetadata> T reduced(T object) {
    object.getMetadata().setAnnotations(null);
    object.getMetadata().setOwnerReferences(null);
    object.getMetadata().setFinalizers(null);
    if (object instanceof Node node) {
      node.setSpec(null);
      node.setStatus(null);
    } else if (object instanceof ConfigMap map) {
      map.setData(null);
      map.setBinaryData(null);
    }
    return object;
  }

  /**
   * Keeps of a VM its metadata, run strategy, template metadata (the placement and restart Nimbus
   * asked for) and the Secrets its template names (deleted once it names them no longer): Nimbus
   * rewrites the template whole, and stops a VM with a patch, so the rest is never read.
   */
  private static void slim(VirtualMachine vm) {
    VirtualMachineSpec.Template template = vm.getSpec() == null ? null : vm.getSpec().template;
    if (template != null && template.spec != null) {
      VirtualMachineInstanceSpec kept = new VirtualMachineInstanceSpec();
      kept.volumes = template.spec.volumes;
      kept.accessCredentials = template.spec.accessCredentials;
      template.spec = kept;
    }
    if (vm.getStatus() != null) {
      vm.getStatus().additionalProperties().clear();
    }
  }

  private static void dropWhatNimbusNeverReads(Container container) {
    container.setCommand(null);
    container.setArgs(null);
    container.setEnv(null);
    container.setPorts(null);
  }
}
