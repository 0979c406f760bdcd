package dev.nimbus.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The local control plane is a real cluster: nodes with capacities, a scheduler, identities. */
@ExtendWith(LocalCluster.class)
class LocalControlPlaneIT {
  @Test
  void defaultNodesAreReadyWithTheirCapacitiesAndZones(KubernetesClient client) {
    List<Node> nodes = client.nodes().withLabel("type", "kwok").list().getItems();

    assertThat(nodes)
        .extracting(n -> n.getMetadata().getName())
        .contains("kvm-0", "kvm-1", "kvm-2", "plain-0", "plain-1", "plain-2");
    for (Node node : nodes) {
      assertThat(node.getStatus().getConditions())
          .anySatisfy(
              c -> {
                assertThat(c.getType()).isEqualTo("Ready");
                assertThat(c.getStatus()).isEqualTo("True");
              });
    }
    Node kvm = client.nodes().withName("kvm-0").get();
    assertThat(kvm.getStatus().getAllocatable())
        .containsEntry("cpu", new Quantity("16"))
        .containsEntry("memory", new Quantity("64Gi"))
        .containsEntry("devices.kubevirt.io/kvm", new Quantity("1k"));
    assertThat(kvm.getMetadata().getLabels()).containsEntry("kubevirt.io/schedulable", "true");
    Node plain = client.nodes().withName("plain-0").get();
    assertThat(plain.getStatus().getAllocatable())
        .containsEntry("cpu", new Quantity("8"))
        .containsEntry("memory", new Quantity("32Gi"))
        .doesNotContainKey("devices.kubevirt.io/kvm");
    assertThat(nodes)
        .extracting(n -> n.getMetadata().getLabels().get("topology.kubernetes.io/zone"))
        .containsOnly("zone-a", "zone-b", "zone-c")
        .contains("zone-a", "zone-b", "zone-c");
  }

  @Test
  void podWithRequestsIsScheduledAndRuns(KubernetesClient client, TestNamespace namespace) {
    Pod pod =
        client.pods().inNamespace(namespace.name()).resource(pod("fits", "2", "4Gi")).create();

    Pod running =
        client
            .pods()
            .resource(pod)
            .waitUntilCondition(
                p -> p != null && "Running".equals(p.getStatus().getPhase()), 60, TimeUnit.SECONDS);

    assertThat(running.getSpec().getNodeName()).isNotBlank();
    assertThat(running.getStatus().getPodIP()).isNotBlank();
  }

  @Test
  void podTooLargeForEveryNodeStaysPendingWithTheSchedulersReason(
      KubernetesClient client, TestNamespace namespace) {
    Pod pod =
        client
            .pods()
            .inNamespace(namespace.name())
            .resource(pod("too-large", "100", "1Gi"))
            .create();

    Pod pending =
        client
            .pods()
            .resource(pod)
            .waitUntilCondition(
                p ->
                    p != null
                        && p.getStatus().getConditions().stream()
                            .anyMatch(c -> "Unschedulable".equals(c.getReason())),
                60,
                TimeUnit.SECONDS);

    assertThat(pending.getStatus().getPhase()).isEqualTo("Pending");
    assertThat(pending.getStatus().getConditions())
        .anySatisfy(c -> assertThat(c.getMessage()).contains("Insufficient cpu"));
  }

  @Test
  void serviceAccountsGetTokens(KubernetesClient client, TestNamespace namespace) {
    var serviceAccount =
        client
            .serviceAccounts()
            .inNamespace(namespace.name())
            .withName("default")
            .waitUntilCondition(sa -> sa != null, 60, TimeUnit.SECONDS);

    var token =
        client
            .serviceAccounts()
            .resource(serviceAccount)
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withExpirationSeconds(600L)
                    .endSpec()
                    .build());

    assertThat(token.getStatus().getToken()).isNotBlank();
    var review =
        client
            .resource(
                new TokenReviewBuilder()
                    .withNewSpec()
                    .withToken(token.getStatus().getToken())
                    .endSpec()
                    .build())
            .create();
    assertThat(review.getStatus().getAuthenticated()).isTrue();
    assertThat(review.getStatus().getUser().getUsername())
        .isEqualTo("system:serviceaccount:" + namespace.name() + ":default");
  }

  private static Pod pod(String name, String cpu, String memory) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withRestartPolicy("Never")
        .addNewContainer()
        .withName("main")
        .withImage("busybox:1.36")
        .withNewResources()
        .withRequests(Map.of("cpu", new Quantity(cpu), "memory", new Quantity(memory)))
        .endResources()
        .endContainer()
        .endSpec()
        .build();
  }
}
