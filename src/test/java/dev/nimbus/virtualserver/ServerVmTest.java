package dev.nimbus.virtualserver;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The VM of one instance, built without a cluster. */
class ServerVmTest {
  /** A 16-core, 64Gi KVM node at cpu ratio 4 and memory ratio 1.5. */
  private static final Node NODE =
      new Node(
          "kvm-1",
          Amounts.of(16_000, 64L << 30, 0),
          Map.of(
              Resource.CPU, new Ratio(4000),
              Resource.MEMORY, new Ratio(1500),
              Resource.EPHEMERAL_STORAGE, Ratio.ONE),
          Map.of(),
          Node.UNLIMITED_PODS);

  /** What admission reserved for one t3.micro (2 vCPU, 1Gi) instance on kvm-1. */
  private static final LedgerEntry.Placement T3_MICRO =
      new LedgerEntry.Placement("kvm-1", 2000, 1L << 30, 0, null);

  @Test
  void aSeedShapedServerBecomesAVmOnItsNodeWithSecretsNotInlineData() {
    VirtualMachine vm = ServerVm.desired(server(true), 2, T3_MICRO, NODE);

    assertThat(vm.getMetadata().getName()).isEqualTo("web-2");
    assertThat(vm.getMetadata().getOwnerReferences().get(0).getUid()).isEqualTo("u-web");
    assertThat(vm.getSpec().runStrategy).isEqualTo("Always");
    var template = vm.getSpec().template;
    assertThat(template.metadata.getLabels())
        .containsEntry(Names.VIRTUAL_SERVER_LABEL, "web")
        .containsEntry(Names.INSTANCE_INDEX_LABEL, "2")
        .containsKey("secgroup.compute.nimbus.dev/web");
    var spec = template.spec;
    assertThat(spec.domain.cpu.cores).isEqualTo(2);
    assertThat(spec.domain.memory.guest).isEqualTo(new Quantity("1Gi"));
    assertThat(spec.domain.cpu.maxSockets).as("no vCPU sockets to hot-plug").isEqualTo(1);
    // 2 vCPU at ratio 4 is 500m on the node; 1Gi at ratio 1.5 is 2/3 of it, rounded up.
    assertThat(spec.domain.resources.requests)
        .containsEntry("cpu", new Quantity("500m"))
        .containsEntry("memory", new Quantity(Long.toString(715_827_883L)));
    assertThat(spec.volumes.get(0).containerDisk.image)
        .isEqualTo("quay.io/containerdisks/ubuntu:24.04");
    assertThat(spec.volumes.get(1).cloudInitNoCloud.userDataSecretRef.name)
        .isEqualTo("web-userdata");
    assertThat(spec.accessCredentials.get(0).sshPublicKey.source.secret.secretName)
        .isEqualTo("web-ssh-key");
    assertThat(spec.nodeSelector).containsEntry("kubevirt.io/schedulable", "true");
    assertThat(
            spec.affinity
                .getNodeAffinity()
                .getRequiredDuringSchedulingIgnoredDuringExecution()
                .getNodeSelectorTerms()
                .get(0)
                .getMatchFields()
                .get(0)
                .getValues())
        .containsExactly("kvm-1");
    String json = new KubernetesSerialization().asJson(vm);
    assertThat(json).as("user data never inline").doesNotContain("apache2");
  }

  /**
   * The template KubeVirt stores of the one Nimbus wrote has the same digest: read back as JSON,
   * with the firmware, machine type and architecture virt-api adds, and its quantities written in
   * Kubernetes' canonical form.
   */
  @Test
  void aTemplateAsKubeVirtStoresItHasTheDigestOfTheOneNimbusWrote() {
    VirtualMachine vm = ServerVm.desired(server(true), 2, T3_MICRO, NODE);
    String written = ServerVm.templateDigest(vm.getSpec().template);

    assertThat(ServerVm.templateDigest(asStored(vm, "{}").getSpec().template)).isEqualTo(written);
    assertThat(
            ServerVm.templateDigest(
                asStored(
                        vm,
                        """
                        {"architecture": "amd64", "domain": {"machine": {"type": "q35"},
                          "firmware": {"uuid": "0343ee33", "serial": "9756e566"},
                          "memory": {"guest": "1024Mi"}}}""")
                    .getSpec()
                    .template))
        .isEqualTo(written);
  }

  /** Any change to a field Nimbus sets, or a field added, changes the digest. */
  @Test
  void aTemplateSomeoneElseChangedHasAnotherDigest() {
    VirtualMachine vm = ServerVm.desired(server(true), 2, T3_MICRO, NODE);
    String written = ServerVm.templateDigest(vm.getSpec().template);

    for (String edit :
        List.of(
            "{\"domain\": {\"cpu\": {\"cores\": 16}}}",
            "{\"domain\": {\"resources\": {\"requests\": {\"cpu\": \"8\"}}}}",
            "{\"domain\": {\"resources\": {\"limits\": {\"memory\": \"64Gi\"}}}}",
            "{\"domain\": {\"memory\": {\"guest\": \"2Gi\"}}}",
            "{\"affinity\": null}",
            "{\"nodeName\": \"kvm-2\"}",
            "{\"hostname\": \"elsewhere\"}")) {
      assertThat(ServerVm.templateDigest(asStored(vm, edit).getSpec().template))
          .as(edit)
          .isNotEqualTo(written);
    }
    VirtualMachine unlabelled = asStored(vm, "{}");
    unlabelled.getSpec().template.metadata.getLabels().remove("secgroup.compute.nimbus.dev/web");
    assertThat(ServerVm.templateDigest(unlabelled.getSpec().template)).isNotEqualTo(written);
  }

  /**
   * {@code vm} as the API server would give it back, with {@code templateSpecPatch} merged into its
   * template's spec (RFC 7386: null removes a field).
   */
  private static VirtualMachine asStored(VirtualMachine vm, String templateSpecPatch) {
    var json = new KubernetesSerialization();
    var tree = (ObjectNode) json.convertValue(vm, JsonNode.class);
    merge(
        (ObjectNode) tree.get("spec").get("template").get("spec"),
        json.unmarshal(templateSpecPatch, JsonNode.class));
    return json.unmarshal(json.asJson(tree), VirtualMachine.class);
  }

  private static void merge(ObjectNode target, JsonNode patch) {
    patch
        .fields()
        .forEachRemaining(
            field -> {
              if (field.getValue().isNull()) {
                target.remove(field.getKey());
              } else if (field.getValue().isObject()
                  && target.get(field.getKey()) != null
                  && target.get(field.getKey()).isObject()) {
                merge((ObjectNode) target.get(field.getKey()), field.getValue());
              } else {
                target.set(field.getKey(), field.getValue());
              }
            });
  }

  @Test
  void onAnX86NodeAVmNamesItsArchitectureAndLeavesNoMemoryToHotPlug() {
    var x86 = on(NODE, "amd64");
    var spec = ServerVm.desired(server(true), 2, T3_MICRO, x86).getSpec().template.spec;
    assertThat(spec.architecture).isEqualTo("amd64");
    assertThat(spec.domain.memory.maxGuest).isEqualTo(spec.domain.memory.guest);

    // Below 1Gi, or off KubeVirt's 2Mi blocks, KubeVirt hot-plugs none and refuses a maximum.
    for (long bytes : new long[] {512L << 20, (1L << 30) + (1L << 20)}) {
      var small = new LedgerEntry.Placement("kvm-1", 1000, bytes, 0, null);
      var memory = ServerVm.desired(server(true), 0, small, x86).getSpec().template.spec;
      assertThat(memory.architecture).isEqualTo("amd64");
      assertThat(memory.domain.memory.maxGuest).as("%d bytes", bytes).isNull();
    }
  }

  @Test
  void elsewhereTheArchitectureIsKubeVirtsDefaultAndNoMaximumIsSet() {
    for (Node node : List.of(NODE, on(NODE, "arm64"), on(NODE, "s390x"))) {
      var spec = ServerVm.desired(server(true), 2, T3_MICRO, node).getSpec().template.spec;
      assertThat(spec.architecture).as("%s", node.labels()).isNull();
      assertThat(spec.domain.memory.maxGuest).as("%s", node.labels()).isNull();
    }
  }

  private static Node on(Node node, String architecture) {
    return new Node(
        node.name(),
        node.physical(),
        node.ratios(),
        Map.of(Names.ARCHITECTURE_LABEL, architecture),
        node.podSlots());
  }

  @Test
  void aStoppedServerHaltsItsVms() {
    assertThat(ServerVm.desired(server(false), 0, T3_MICRO, NODE).getSpec().runStrategy)
        .isEqualTo("Halted");
  }

  @Test
  void instanceIdsAreStableEc2Ids() {
    assertThat(Names.instanceId("u-web", 0))
        .matches("i-[0-9a-f]{17}")
        .isEqualTo(Names.instanceId("u-web", 0))
        .isNotEqualTo(Names.instanceId("u-web", 1));
  }

  @Test
  void memoryIsWrittenAsAnInstanceTypeWouldWriteIt() {
    assertThat(ServerVm.memory(4L << 30)).isEqualTo("4Gi");
    assertThat(ServerVm.memory(512L << 20)).isEqualTo("512Mi");
    assertThat(ServerVm.memory(1536L << 20)).isEqualTo("1536Mi");
    assertThat(ServerVm.memory(1000)).isEqualTo("1000");
  }

  private static VirtualServer server(boolean running) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder().withName("web").withNamespace("default").withUid("u-web").build());
    server.setSpec(
        new VirtualServerSpec(
            "quay.io/containerdisks/ubuntu:24.04",
            "t3.micro",
            1,
            3,
            "my-key-pair",
            List.of("web"),
            "#!/bin/bash\napt-get install -y apache2\n",
            "kvm",
            running,
            false));
    return server;
  }
}
