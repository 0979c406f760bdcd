package dev.nimbus.virtualserver;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.ControlPlaneBinaries;
import dev.nimbus.testing.LocalCluster;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every combination of VirtualServer options (with and without user data, a key pair, security
 * groups; running and stopped) for every sample InstanceType, on a node of each architecture,
 * yields VMs that KubeVirt's own admission accepts, with no field KubeVirt's API lacks: judged by
 * kubevirt-admit, built with KubeVirt by {@code hack/build-control-plane.sh}.
 */
class ServerVmKubeVirtIT {
  private static final KubernetesSerialization JSON = new KubernetesSerialization();

  /** Nodes of each architecture KubeVirt builds for, and one whose architecture is not known. */
  private static final List<Node> NODES =
      Stream.of("amd64", "arm64", "s390x", "")
          .map(
              architecture ->
                  new Node(
                      "kvm-" + (architecture.isEmpty() ? "unlabelled" : architecture),
                      Amounts.of(16_000, 64L << 30, 0),
                      Map.of(
                          Resource.CPU, new Ratio(4000),
                          Resource.MEMORY, new Ratio(1500),
                          Resource.EPHEMERAL_STORAGE, Ratio.ONE),
                      architecture.isEmpty()
                          ? Map.of()
                          : Map.of(Names.ARCHITECTURE_LABEL, architecture),
                      Node.UNLIMITED_PODS))
          .toList();

  @Test
  void everyCombinationOfOptionsAndSampleTypeIsAVmKubeVirtAccepts() throws Exception {
    List<String> vms = new ArrayList<>();
    for (Node node : NODES) {
      for (JsonNode type : sampleInstanceTypes()) {
        String typeName = type.at("/metadata/name").asText();
        var placement =
            new LedgerEntry.Placement(
                node.name(),
                type.at("/spec/vcpus").asLong() * 1000,
                PoolModels.instanceBytes(type.at("/spec/memory").asText()),
                0,
                null);
        for (int options = 0; options < 16; options++) {
          boolean userData = (options & 1) != 0;
          boolean key = (options & 2) != 0;
          boolean groups = (options & 4) != 0;
          boolean running = (options & 8) == 0;
          VirtualServer server = new VirtualServer();
          server.setMetadata(
              new ObjectMetaBuilder()
                  .withName(typeName.replace('.', '-') + "-" + options + "-" + node.name())
                  .withNamespace("judged")
                  .withUid("u-" + typeName + "-" + options)
                  .build());
          server.setSpec(
              new VirtualServerSpec(
                  "quay.io/containerdisks/fedora:40",
                  typeName,
                  1,
                  1,
                  key ? "deployer" : null,
                  groups ? List.of("web", "db") : null,
                  userData ? "#cloud-config\npackages: [nginx]\n" : null,
                  "kvm",
                  running,
                  false));
          VirtualMachine vm = ServerVm.desired(server, 0, placement, node);
          vms.add(JSON.asJson(vm));
        }
      }
    }

    var result =
        ControlPlaneBinaries.runAllowingFailure(
            String.join("\n", vms), ControlPlaneBinaries.path("kubevirt-admit").toString());

    assertThat(vms).hasSizeGreaterThanOrEqualTo(NODES.size() * 16 * 5);
    assertThat(result.output()).as("KubeVirt's refusals").isEmpty();
    assertThat(result.exitCode()).isZero();
  }

  private static List<JsonNode> sampleInstanceTypes() throws Exception {
    List<JsonNode> types = new ArrayList<>();
    var file = LocalCluster.projectDir().resolve("deploy/samples/00-instancetypes.yaml").toFile();
    try (var parser = new YAMLMapper().getFactory().createParser(file)) {
      var documents = new YAMLMapper().readValues(parser, JsonNode.class);
      while (documents.hasNext()) {
        JsonNode document = documents.next();
        if (document != null && "InstanceType".equals(document.path("kind").asText())) {
          types.add(document);
        }
      }
    }
    return types;
  }
}
