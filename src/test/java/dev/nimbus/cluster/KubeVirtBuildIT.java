package dev.nimbus.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.ControlPlaneBinaries;
import dev.nimbus.testing.LocalCluster;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * KubeVirt's own control plane, built from its Go modules by {@code hack/build-control-plane.sh} at
 * the version pinned in {@code hack/versions.sh}: virtctl reports that version, and
 * kubevirt-manifests prints the 17 CRDs virt-operator installs, whose VirtualMachine CRD (with its
 * full structural schema) the local API server accepts.
 */
@ExtendWith(LocalCluster.class)
class KubeVirtBuildIT {
  @Test
  void kubeVirtIsBuiltAtThePinnedVersionAndItsCrdsAreAccepted(KubernetesClient client)
      throws Exception {
    Path root = LocalCluster.projectDir();
    String version = pinned(root.resolve("hack/versions.sh"));
    assertThat(
            String.join(
                "\n",
                ControlPlaneBinaries.run(
                    null, ControlPlaneBinaries.path("virtctl").toString(), "version", "--client")))
        .contains("GitVersion:\"" + version + "\"");
    String manifests =
        String.join(
            "\n",
            ControlPlaneBinaries.run(
                null, ControlPlaneBinaries.path("kubevirt-manifests").toString()));
    List<HasMetadata> objects =
        client.load(new ByteArrayInputStream(manifests.getBytes(StandardCharsets.UTF_8))).items();
    List<CustomResourceDefinition> crds =
        objects.stream()
            .filter(CustomResourceDefinition.class::isInstance)
            .map(CustomResourceDefinition.class::cast)
            .toList();
    assertThat(crds).hasSize(17);
    assertThat(objects)
        .extracting(HasMetadata::getKind)
        .contains("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService");
    CustomResourceDefinition vm =
        crds.stream()
            .filter(crd -> crd.getMetadata().getName().equals("virtualmachines.kubevirt.io"))
            .findFirst()
            .orElseThrow();
    assertThat(
            vm.getSpec().getVersions().stream()
                .filter(v -> v.getName().equals("v1"))
                .findFirst()
                .orElseThrow()
                .getSchema()
                .getOpenAPIV3Schema()
                .getProperties()
                .get("spec")
                .getProperties())
        .containsKeys("template", "runStrategy", "dataVolumeTemplates");
    // The API server accepts it as it would from virt-operator (a dry run: the stand-in's CRD
    // of the same name stays until the local control plane runs KubeVirt itself).
    client.resource(vm).dryRun().forceConflicts().serverSideApply();
  }

  /**
   * The VirtualMachine the KubeVirt model is tested on (src/test/resources/kubevirt/vm-full.yaml,
   * "as KubeVirt and users may write it") is one KubeVirt's own admission accepts, with no field
   * KubeVirt's API lacks: the model's tests prove nothing on an imagined VM.
   */
  @Test
  void theKubeVirtModelsFixtureIsAVmKubeVirtAccepts(KubernetesClient client) throws Exception {
    HasMetadata vm =
        client
            .getKubernetesSerialization()
            .unmarshal(
                Files.readString(
                    LocalCluster.projectDir().resolve("src/test/resources/kubevirt/vm-full.yaml")),
                GenericKubernetesResource.class);

    var result =
        ControlPlaneBinaries.runAllowingFailure(
            client.getKubernetesSerialization().asJson(vm),
            ControlPlaneBinaries.path("kubevirt-admit").toString());

    assertThat(result.output()).as("KubeVirt's refusals").isEmpty();
    assertThat(result.exitCode()).isZero();
  }

  private static String pinned(Path versions) throws Exception {
    var matcher =
        Pattern.compile("KUBEVIRT_VERSION=\"\\$\\{KUBEVIRT_VERSION:-(v[0-9.]+)}\"")
            .matcher(Files.readString(versions));
    assertThat(matcher.find()).as("KUBEVIRT_VERSION in " + versions).isTrue();
    return matcher.group(1);
  }
}
