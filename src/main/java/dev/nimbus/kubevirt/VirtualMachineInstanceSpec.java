package dev.nimbus.kubevirt;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/** {@code VirtualMachineInstance.spec}, also the VM's {@code spec.template.spec}. */
public class VirtualMachineInstanceSpec extends KubeVirtObject {
  public Domain domain;
  public List<Volume> volumes;
  public List<Network> networks;
  public Map<String, String> nodeSelector;
  public Affinity affinity;
  public List<Toleration> tolerations;
  public List<AccessCredential> accessCredentials;
  public Long terminationGracePeriodSeconds;

  /**
   * The guest's CPU architecture, as a node's {@code kubernetes.io/arch} label names it ({@code
   * amd64}, {@code arm64}, {@code s390x}); virt-api sets the cluster's default when absent.
   */
  public String architecture;

  /** The virtual hardware. */
  public static class Domain extends KubeVirtObject {
    public Cpu cpu;
    public Memory memory;
    public Resources resources;
    public Devices devices;

    /**
     * The guest's firmware ids ({@code uuid}, {@code serial}), which virt-api gives a VM at its
     * create and never again: the guest's identity, kept when its VM is rewritten.
     */
    public Map<String, Object> firmware;
  }

  /** Guest CPU topology. */
  public static class Cpu extends KubeVirtObject {
    public Integer cores;
    public Integer sockets;
    public Integer threads;

    /** The most sockets the running guest may be given (hot-plugged) without a restart. */
    public Integer maxSockets;
  }

  /** Guest memory, such as 1Gi. */
  public static class Memory extends KubeVirtObject {
    public Quantity guest;

    /** The most memory the running guest may be given (hot-plugged) without a restart. */
    public Quantity maxGuest;
  }

  /** What the virt-launcher pod requests and is limited to. */
  public static class Resources extends KubeVirtObject {
    public Map<String, Quantity> requests;
    public Map<String, Quantity> limits;
  }

  /** Disks and network interfaces. */
  public static class Devices extends KubeVirtObject {
    public List<Disk> disks;
    public List<Interface> interfaces;
  }

  /** A disk attached to a volume of the same name. */
  public static class Disk extends KubeVirtObject {
    public String name;
    public DiskTarget disk;
    public Integer bootOrder;
  }

  /** How a disk appears to the guest. */
  public static class DiskTarget extends KubeVirtObject {
    /** virtio, sata or scsi. */
    public String bus;
  }

  /** A network interface attached to a network of the same name. */
  public static class Interface extends KubeVirtObject {
    public String name;

    /** Present (as an empty object) for the masquerade binding of the pod network. */
    public Map<String, Object> masquerade;

    public Map<String, Object> bridge;
  }

  /** A network; {@code pod} (an empty object) is the pod network. */
  public static class Network extends KubeVirtObject {
    public String name;
    public Map<String, Object> pod;
  }

  /** A volume: a containerDisk image or cloud-init data from a Secret. */
  public static class Volume extends KubeVirtObject {
    public String name;
    public ContainerDisk containerDisk;
    public CloudInitNoCloud cloudInitNoCloud;
  }

  /** A disk image shipped in a container image. */
  public static class ContainerDisk extends KubeVirtObject {
    public String image;
    public String imagePullPolicy;
  }

  /** cloud-init NoCloud data; Nimbus always points at a Secret, never inline data. */
  public static class CloudInitNoCloud extends KubeVirtObject {
    public String userData;

    /** KubeVirt's name for it is {@code secretRef}. */
    @com.fasterxml.jackson.annotation.JsonProperty("secretRef")
    public SecretReference userDataSecretRef;

    public SecretReference networkDataSecretRef;
  }

  /** A Secret by name, in the VM's namespace. */
  public static class SecretReference extends KubeVirtObject {
    public String name;
  }

  /** Credentials KubeVirt injects into the guest, such as SSH public keys. */
  public static class AccessCredential extends KubeVirtObject {
    public SshPublicKey sshPublicKey;
  }

  /** SSH public keys from a Secret, propagated into the guest. */
  public static class SshPublicKey extends KubeVirtObject {
    public Source source;
    public Map<String, Object> propagationMethod;
  }

  /** Where credentials come from. */
  public static class Source extends KubeVirtObject {
    public SecretSource secret;
  }

  /** A Secret by name, as access credentials name it. */
  public static class SecretSource extends KubeVirtObject {
    public String secretName;
  }
}
