package dev.nimbus.virtualserver;

import dev.nimbus.kubevirt.VirtualMachine;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;

/**
 * Whether the cluster serves KubeVirt's {@code kubevirt.io/v1} VirtualMachines, asked through API
 * discovery (which every authenticated client may read). Once found, KubeVirt is taken to stay; an
 * absence is asked again after {@link #RECHECK}, so that Nimbus proceeds soon after KubeVirt is
 * installed, without a restart and without asking on every reconcile.
 */
@ApplicationScoped
public class KubeVirtAvailability {
  static final Duration RECHECK = Duration.ofSeconds(10);

  private final KubernetesClient client;
  private volatile boolean available;
  private volatile long absentUntil;

  public KubeVirtAvailability(KubernetesClient client) {
    this.client = client;
  }

  public boolean available() {
    if (available) {
      return true;
    }
    if (System.nanoTime() - absentUntil < 0) {
      return false;
    }
    boolean found;
    try {
      found = client.supports(VirtualMachine.class);
    } catch (KubernetesClientException e) {
      found = false;
    }
    if (found) {
      available = true;
    } else {
      absentUntil = System.nanoTime() + RECHECK.toNanos();
    }
    return found;
  }
}
