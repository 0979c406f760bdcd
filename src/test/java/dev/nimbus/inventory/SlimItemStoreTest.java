package dev.nimbus.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.naming.Names;
import dev.nimbus.workload.Firewall;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicySpec;
import org.junit.jupiter.api.Test;

class SlimItemStoreTest {
  @Test
  void aPolicyIsKeptAsTheDigestOfTheSpecItHasNotTheOneItsAnnotationClaims() {
    NetworkPolicy policy =
        new NetworkPolicyBuilder()
            .withNewMetadata()
            .withName("web-vsrv-secgroups")
            .withNamespace("team-a")
            .addToAnnotations(Names.SPEC_DIGEST_ANNOTATION, "what Nimbus wrote before an edit")
            .endMetadata()
            .withNewSpec()
            .addNewIngress()
            .addNewPort()
            .withPort(new IntOrString(80))
            .endPort()
            .endIngress()
            .endSpec()
            .build();
    NetworkPolicySpec spec = policy.getSpec();
    String digest = Firewall.specDigest(spec);

    SlimItemStore<NetworkPolicy> store = new SlimItemStore<>();
    store.put("team-a/web-vsrv-secgroups", policy);

    NetworkPolicy kept = store.get("team-a/web-vsrv-secgroups");
    assertThat(kept.getSpec()).isNull();
    assertThat(kept.getMetadata().getAnnotations())
        .containsEntry(Names.SPEC_DIGEST_ANNOTATION, digest);
  }

  @Test
  void aPodIsKeptWithoutItsContainersCommandsArgumentsEnvironmentAndPorts() {
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("hello-task-0")
            .withNamespace("team-a")
            .endMetadata()
            .withNewSpec()
            .withNodeName("plain-0")
            .addNewContainer()
            .withName("hello")
            .withImage("busybox:1.36")
            .withCommand("sh", "-c")
            .withArgs("echo " + "x".repeat(4096))
            .addNewEnv()
            .withName("GREETING")
            .withValue("hello")
            .endEnv()
            .addNewPort()
            .withContainerPort(8080)
            .endPort()
            .endContainer()
            .endSpec()
            .build();

    SlimItemStore<Pod> store = new SlimItemStore<>();
    store.put("team-a/hello-task-0", pod);

    Pod kept = store.get("team-a/hello-task-0");
    assertThat(kept.getSpec().getNodeName()).isEqualTo("plain-0");
    assertThat(kept.getSpec().getContainers().get(0).getName()).isEqualTo("hello");
    assertThat(kept.getSpec().getContainers().get(0).getCommand()).isNullOrEmpty();
    assertThat(kept.getSpec().getContainers().get(0).getArgs()).isNullOrEmpty();
    assertThat(kept.getSpec().getContainers().get(0).getEnv()).isNullOrEmpty();
    assertThat(kept.getSpec().getContainers().get(0).getPorts()).isNullOrEmpty();
  }
}
