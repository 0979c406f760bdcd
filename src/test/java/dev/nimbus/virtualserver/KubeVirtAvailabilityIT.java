package dev.nimbus.virtualserver;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.testing.Await;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A cluster without KubeVirt: VirtualServers say so in their status, the operator keeps running,
 * and once KubeVirt's CRDs appear the same VirtualServer runs, without a restart.
 */
@ExtendWith(LocalCluster.class)
class KubeVirtAvailabilityIT {
  static final String NAMESPACE = "nimbus-kubevirt-it";
  static final String POOL = "it-kubevirt";
  static final List<String> KUBEVIRT_CRDS =
      List.of("virtualmachines.kubevirt.io", "virtualmachineinstances.kubevirt.io");

  @Test
  void withoutKubeVirtAServerWaitsVisiblyAndRunsOnceKubeVirtIsInstalled(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    client.resource(Fixtures.serverPool(POOL, "nimbus.dev/node-group", "kvm")).serverSideApply();
    client.resource(Fixtures.instanceType("itkv.small", 1, "1Gi")).serverSideApply();
    try {
      withoutKubeVirt(client, namespace);
    } finally {
      LocalCluster.reinstallKubeVirt();
    }
  }

  private void withoutKubeVirt(KubernetesClient client, TestNamespace namespace) throws Exception {
    // The CRDs go once virt-controller has finalized every VM and VMI of the cluster.
    for (String crd : KUBEVIRT_CRDS) {
      client.apiextensions().v1().customResourceDefinitions().withName(crd).delete();
    }
    for (String crd : KUBEVIRT_CRDS) {
      client
          .apiextensions()
          .v1()
          .customResourceDefinitions()
          .withName(crd)
          .waitUntilCondition(c -> c == null, 180, TimeUnit.SECONDS);
    }
    try (OperatorProcess operator =
        OperatorProcess.start(
            "it-kubevirt-operator",
            Map.of(
                "quarkus.http.port", "0",
                "nimbus.namespace", NAMESPACE,
                "nimbus.webhook.host", "127.0.0.1",
                "nimbus.webhook.port", "20143",
                "nimbus.webhook.url", "https://127.0.0.1:20143",
                "nimbus.webhook.extra-hosts", "127.0.0.1",
                "nimbus.webhook.configuration-name", "nimbus-kubevirt-it"))) {
      VirtualServer server =
          VirtualServerIT.server(
              namespace,
              "waits",
              new VirtualServerSpec(
                  "quay.io/containerdisks/fedora:40",
                  "itkv.small",
                  1,
                  1,
                  null,
                  null,
                  null,
                  POOL,
                  true,
                  false));
      Await.createWhenReferencesKnown(client, server);

      VirtualServer waiting =
          client
              .resource(server)
              .waitUntilCondition(
                  s -> "True".equals(condition(s, "KubeVirtUnavailable")), 60, TimeUnit.SECONDS);
      assertThat(reason(waiting, "Ready")).isEqualTo("KubeVirtUnavailable");
      Thread.sleep(3000);
      assertThat(operator.logText())
          .as("no crash loop: the operator keeps running without KubeVirt")
          .doesNotContain("Operator will be stopped");
      assertThat(
              client.v1().events().inNamespace(namespace.name()).list().getItems().stream()
                  .map(e -> e.getReason()))
          .contains("KubeVirtUnavailable");

      LocalCluster.reinstallKubeVirt();

      VirtualServer running = VirtualServerIT.awaitReady(client, server, 1);
      assertThat(condition(running, "KubeVirtUnavailable")).isEqualTo("False");
      client.resource(server).delete();
      client.resource(server).waitUntilCondition(s -> s == null, 60, TimeUnit.SECONDS);
    } finally {
      client
          .admissionRegistration()
          .v1()
          .validatingWebhookConfigurations()
          .withName("nimbus-kubevirt-it")
          .delete();
      client.resources(CapacityPool.class).withName(POOL).delete();
    }
  }

  private static String condition(VirtualServer server, String type) {
    if (server == null || server.getStatus() == null || server.getStatus().conditions() == null) {
      return null;
    }
    return server.getStatus().conditions().stream()
        .filter(c -> c.getType().equals(type))
        .map(c -> c.getStatus())
        .findFirst()
        .orElse(null);
  }

  private static String reason(VirtualServer server, String type) {
    return server.getStatus().conditions().stream()
        .filter(c -> c.getType().equals(type))
        .map(c -> c.getReason())
        .findFirst()
        .orElse(null);
  }
}
