package dev.nimbus.kubevirt;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.junit.jupiter.api.Test;

class KubeVirtResourceTest {
  private final KubernetesSerialization json = new KubernetesSerialization();

  @Test
  void aVmIsWrittenWithItsKindAndApiVersionAndReadBackAsWritten() {
    VirtualMachine vm = new VirtualMachine();
    vm.getMetadata().setName("web-0");
    vm.getMetadata().setNamespace("team-a");
    vm.getSpec().runStrategy = VirtualMachine.RUN_ALWAYS;

    String written = json.asJson(vm);

    assertThat(written)
        .startsWith("{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\",\"metadata\":");
    assertThat(written).doesNotContain("plural", "singular", "crdName", "scope", "status");
    VirtualMachine read = json.unmarshal(written, VirtualMachine.class);
    assertThat(json.asJson(read)).isEqualTo(written);
    assertThat(read.getSpec().runStrategy).isEqualTo(VirtualMachine.RUN_ALWAYS);
  }

  @Test
  void aVmiReadFromTheApiServerKeepsWhatItsClassesDeclareAndTheRest() {
    VirtualMachineInstance vmi =
        json.unmarshal(
            """
            {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
             "metadata": {"name": "web-0", "namespace": "team-a"},
             "spec": {"domain": {"devices": {}}, "evictionStrategy": "None"},
             "status": {"phase": "Running", "nodeName": "kvm-0"}}
            """,
            VirtualMachineInstance.class);

    assertThat(vmi.getKind()).isEqualTo("VirtualMachineInstance");
    assertThat(vmi.getApiVersion()).isEqualTo("kubevirt.io/v1");
    assertThat(vmi.getStatus().phase).isEqualTo("Running");
    assertThat(vmi.getSpec().additionalProperties()).containsEntry("evictionStrategy", "None");
    assertThat(HasMetadata.getFullResourceName(VirtualMachineInstance.class))
        .isEqualTo("virtualmachineinstances.kubevirt.io");
  }
}
