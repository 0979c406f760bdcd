package dev.nimbus.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The generated CRDs against a real kube-apiserver: every sample is accepted with its defaults
 * filled in, and every invalid variant of {@code crd-cases.yaml} is refused with the message a user
 * must see.
 */
@ExtendWith(LocalCluster.class)
class CrdSchemaIT {
  private static final Set<String> CLUSTER_SCOPED = Set.of("CapacityPool", "InstanceType");

  static List<Samples.Sample> samples() {
    return Samples.all();
  }

  static List<Samples.Case> invalidCases() {
    return Samples.invalidCases();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("samples")
  void sampleIsAccepted(Samples.Sample sample, KubernetesClient client, TestNamespace namespace) {
    GenericKubernetesResource stored =
        client.resource(resource(sample.object(), namespace)).dryRun().create();

    assertThat(stored.getMetadata().getUid()).isNotBlank();
    assertThat(stored.getAdditionalProperties()).containsKey("spec");
  }

  @Test
  void defaultsAreFilledIn(KubernetesClient client, TestNamespace namespace) {
    ObjectNode server = Samples.sampleOf("10-virtualserver.yaml", "VirtualServer");
    ((ObjectNode) server.get("spec")).remove(List.of("minCount", "maxCount"));
    GenericKubernetesResource stored =
        client.resource(resource(server, namespace)).dryRun().create();

    assertThat(stored.<Object>get("spec", "minCount")).isEqualTo(1);
    assertThat(stored.<Object>get("spec", "maxCount")).isEqualTo(1);
    assertThat(stored.<Object>get("spec", "running")).isEqualTo(true);
    assertThat(stored.<Object>get("spec", "terminationProtection")).isEqualTo(false);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidCases")
  void invalidVariantIsRefused(
      Samples.Case invalid, KubernetesClient client, TestNamespace namespace) {
    if (invalid.update() == null) {
      assertRefused(
          () -> client.resource(resource(invalid.object(), namespace)).dryRun().create(), invalid);
      return;
    }
    GenericKubernetesResource created =
        client.resource(resource(invalid.object(), namespace)).create();
    ObjectNode updated = invalid.updated(Samples.YAML.valueToTree(created));
    // The stored object's name, already made unique for a cluster-scoped kind.
    assertRefused(
        () ->
            client
                .resource(Samples.YAML.convertValue(updated, GenericKubernetesResource.class))
                .update(),
        invalid);
  }

  private static void assertRefused(Runnable request, Samples.Case invalid) {
    assertThatThrownBy(request::run)
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).as("HTTP status").isEqualTo(422);
              assertThat(e.getStatus().getMessage()).contains(invalid.message());
            });
  }

  private static GenericKubernetesResource resource(ObjectNode object, TestNamespace namespace) {
    GenericKubernetesResource resource =
        Samples.YAML.convertValue(object, GenericKubernetesResource.class);
    if (resource.getKind().equals("MachineImage")) {
      // Its name is an image id: a valid one of the test's own, an invalid one as it is.
      if (resource.getMetadata().getName().matches("ami-[0-9a-f]{17}")) {
        resource
            .getMetadata()
            .setName(
                "ami-"
                    + UUID.nameUUIDFromBytes(namespace.name().getBytes())
                        .toString()
                        .replace("-", "")
                        .substring(0, 17));
      }
    } else if (CLUSTER_SCOPED.contains(resource.getKind())) {
      // The samples may be installed for real (hack/run-local.sh): never collide with them.
      resource.getMetadata().setName(namespace.name() + "." + resource.getMetadata().getName());
    } else {
      resource.getMetadata().setNamespace(namespace.name());
    }
    return resource;
  }
}
