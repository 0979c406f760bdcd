package dev.nimbus.testing;

import dev.nimbus.allocation.Amounts;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What a launcher pod of real virt-controller asks of its node. */
public final class LauncherPods {
  private LauncherPods() {}

  /**
   * The requests of its containers and of the sidecars among its init containers (which run beside
   * them), in millicores and bytes: what the scheduler counts while the pod runs.
   */
  public static Amounts requested(Pod pod) {
    List<Container> running = new ArrayList<>(pod.getSpec().getContainers());
    pod.getSpec().getInitContainers().stream()
        .filter(c -> "Always".equals(c.getRestartPolicy()))
        .forEach(running::add);
    Amounts total = Amounts.ZERO;
    for (Container container : running) {
      Map<String, Quantity> requests =
          container.getResources() == null || container.getResources().getRequests() == null
              ? Map.of()
              : container.getResources().getRequests();
      total =
          total.plus(
              Amounts.of(
                  amount(requests.get("cpu")).movePointRight(3).longValueExact(),
                  amount(requests.get("memory")).longValueExact(),
                  amount(requests.get("ephemeral-storage")).longValueExact()));
    }
    return total;
  }

  private static BigDecimal amount(Quantity quantity) {
    return quantity == null ? BigDecimal.ZERO : Quantity.getAmountInBytes(quantity);
  }
}
