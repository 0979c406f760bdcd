package dev.nimbus.chart;

import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OldestApiServer;
import dev.nimbus.testing.OldestKubernetes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The chart on the kube-apiserver of the oldest Kubernetes its {@code kubeVersion} admits: every
 * object it renders for that version, with every option, is accepted in a server-side dry run (the
 * admission policy, the webhook's match conditions, the CRDs' CEL rules).
 */
@OldestKubernetes
@ExtendWith(LocalCluster.class)
class ChartOnOldestKubernetesIT {
  @Test
  void theApiServerAcceptsEveryRenderedObject() throws Exception {
    ChartIT.assertEveryRenderedObjectAccepted(OldestApiServer.kubeconfig());
  }
}
