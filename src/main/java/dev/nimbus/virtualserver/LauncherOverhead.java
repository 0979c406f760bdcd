package dev.nimbus.virtualserver;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Resource;

/**
 * What KubeVirt's virt-controller adds to the requests of a VM that Nimbus writes ({@link
 * ServerVm}) when it renders the VM's launcher pod, in physical units: the memory of virt-launcher,
 * libvirt and QEMU beside the guest, the guest's page tables, the serial console logger and the
 * container disk's containers. The scheduler counts it on the node, so admission counts it too: an
 * instance holds its demand and this overhead at the node's ratio, and a pool filled to V still
 * schedules every launcher.
 *
 * <p>The figures are KubeVirt v1.7.0's ({@code GetMemoryOverhead} in
 * pkg/virt-controller/services/renderresources.go and the containers of a VM with one container
 * disk, a serial console log and a graphics device, as Nimbus's VMs have); {@code
 * KubeVirtControlPlaneIT} compares them with the launcher pods real virt-controller renders, so a
 * KubeVirt upgrade that changes them fails there first.
 */
public final class LauncherOverhead {
  private static final long MI = 1024L * 1024;

  /** virt-launcher-monitor, virt-launcher, virtlogd, virtqemud and QEMU itself. */
  static final long PROCESSES_MEMORY = (25 + 100 + 25 + 40 + 30) * MI;

  /** Per vCPU, for its tables; and one IO thread. */
  static final long PER_VCPU_MEMORY = 8 * MI;

  static final long IO_THREAD_MEMORY = 8 * MI;

  /** The video RAM of the graphics device KubeVirt attaches by default. */
  static final long VIDEO_MEMORY = 32 * MI;

  /** The guest-console-log sidecar: 5m CPU and 35M of memory. */
  static final long CONSOLE_LOG_CPU = 5;

  static final long CONSOLE_LOG_MEMORY = 35_000_000;

  /** The container disk's volume container: 1m CPU and 1M of memory. */
  static final long DISK_CONTAINER_CPU = 1;

  static final long DISK_CONTAINER_MEMORY = 1_000_000;

  /** 50M of scratch space each for the compute and the container disk's containers. */
  static final long EPHEMERAL_STORAGE = 2 * 50_000_000L;

  private LauncherOverhead() {}

  /**
   * The overhead of one instance of {@code vcpus} whose VM requests {@code memoryRequest} bytes
   * (the page tables follow the request: one byte per 512 of it, counted in whole kilobytes).
   */
  public static Amounts of(long vcpus, long memoryRequest) {
    long pageTables = -Math.floorDiv(-memoryRequest, 1000) * 1000 / 512;
    long memory =
        pageTables
            + PROCESSES_MEMORY
            + PER_VCPU_MEMORY * Math.max(1, vcpus)
            + IO_THREAD_MEMORY
            + VIDEO_MEMORY
            + CONSOLE_LOG_MEMORY
            + DISK_CONTAINER_MEMORY;
    return Amounts.of(CONSOLE_LOG_CPU + DISK_CONTAINER_CPU, memory, EPHEMERAL_STORAGE);
  }

  /** The overhead of an instance of {@code demand} on {@code node}, where it requests its share. */
  public static Amounts on(Node node, Amounts demand) {
    return of(
        -Math.floorDiv(-demand.get(Resource.CPU), 1000),
        node.requestsFor(demand).get(Resource.MEMORY));
  }
}
