package dev.nimbus.kubevirt;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The typed KubeVirt model reads what Nimbus needs and drops nothing it does not know. */
class KubeVirtModelTest {
  private final KubernetesSerialization json = new KubernetesSerialization();

  @Test
  void readsTheFieldsNimbusUses() throws IOException {
    VirtualMachine vm = read();

    var spec = vm.getSpec().template.spec;
    assertThat(vm.getSpec().runStrategy).isEqualTo(VirtualMachine.RUN_ALWAYS);
    assertThat(spec.domain.cpu.cores).isEqualTo(2);
    assertThat(spec.domain.memory.guest).isEqualTo(new Quantity("1Gi"));
    assertThat(spec.domain.resources.requests).containsEntry("cpu", new Quantity("500m"));
    assertThat(spec.volumes.get(0).containerDisk.image)
        .isEqualTo("quay.io/containerdisks/fedora:40");
    assertThat(spec.volumes.get(1).cloudInitNoCloud.userDataSecretRef.name)
        .isEqualTo("fedora-userdata");
    assertThat(spec.accessCredentials.get(0).sshPublicKey.source.secret.secretName)
        .isEqualTo("my-keys");
    assertThat(spec.nodeSelector).containsEntry("kubevirt.io/schedulable", "true");
    assertThat(spec.tolerations.get(0).getKey()).isEqualTo("dedicated");
    assertThat(vm.getStatus().printableStatus).isEqualTo("Running");
    assertThat(vm.getStatus().conditions.get(0).type).isEqualTo("Ready");
  }

  @Test
  void aReadModifyWriteRoundTripKeepsEveryUnknownField() throws IOException {
    JsonNode original = json.convertValue(yaml(), JsonNode.class);
    VirtualMachine vm = read();

    vm.getSpec().runStrategy = VirtualMachine.RUN_HALTED;
    JsonNode written = json.convertValue(vm, JsonNode.class);

    ObjectNode expected = original.deepCopy();
    ((ObjectNode) expected.get("spec")).put("runStrategy", "Halted");
    // An explicit null is what the API server stores as an absent field; only those may go.
    // Compared as parsed JSON text: 180 written from a Long and read as an int are the same.
    assertThat(reparsed(written)).isEqualTo(reparsed(withoutNulls(expected)));
  }

  private JsonNode reparsed(JsonNode node) {
    return json.unmarshal(json.asJson(node), JsonNode.class);
  }

  private static JsonNode withoutNulls(JsonNode node) {
    if (node instanceof ObjectNode object) {
      List<String> nulls = new ArrayList<>();
      object
          .fields()
          .forEachRemaining(
              field -> {
                if (field.getValue().isNull()) {
                  nulls.add(field.getKey());
                } else {
                  withoutNulls(field.getValue());
                }
              });
      object.remove(nulls);
    } else if (node.isArray()) {
      node.forEach(KubeVirtModelTest::withoutNulls);
    }
    return node;
  }

  private VirtualMachine read() throws IOException {
    try (InputStream in = getClass().getResourceAsStream("/kubevirt/vm-full.yaml")) {
      return json.unmarshal(in, VirtualMachine.class);
    }
  }

  private Object yaml() throws IOException {
    try (InputStream in = getClass().getResourceAsStream("/kubevirt/vm-full.yaml")) {
      return json.unmarshal(in, Object.class);
    }
  }
}
