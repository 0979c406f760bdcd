package dev.nimbus.inventory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.kubevirt.KubeVirtCondition;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.kubevirt.VirtualMachineInstanceSpec;
import dev.nimbus.kubevirt.VirtualMachineInstanceStatus;
import dev.nimbus.kubevirt.VirtualMachineSpec;
import dev.nimbus.kubevirt.VirtualMachineStatus;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.workload.Firewall;
import dev.nimbus.workload.Links;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicySpec;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.List;
import java.util.Map;
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

  @Test
  void aVirtualMachineInstanceIsKeptWithNimbusMetadataItsPhaseNodeAddressesAndReadinessOnly() {
    VirtualMachineInstance vmi = new VirtualMachineInstance();
    vmi.setMetadata(
        new ObjectMetaBuilder()
            .withName("web-0")
            .withNamespace("team-a")
            .addToLabels(Names.VIRTUAL_SERVER_LABEL, "web")
            .addToLabels(Names.INSTANCE_INDEX_LABEL, "0")
            .addToLabels("kubevirt.io/nodeName", "kvm-0")
            .addToAnnotations(Names.PLACEMENT_ANNOTATION, "kvm-0/2/4Gi")
            .addToAnnotations("kubevirt.io/latest-observed-api-version", "v1")
            .addNewOwnerReference()
            .withApiVersion("kubevirt.io/v1")
            .withKind("VirtualMachine")
            .withName("web-0")
            .withUid("5f1c0a3e-vm")
            .withController(true)
            .withBlockOwnerDeletion(true)
            .endOwnerReference()
            .withFinalizers("foregroundDeleteVirtualMachine")
            .addNewManagedField()
            .withManager("virt-controller")
            .endManagedField()
            .build());
    vmi.getSpec().setAdditionalProperty("domain", Map.of("devices", Map.of("disks", List.of())));
    VirtualMachineInstanceStatus status = new VirtualMachineInstanceStatus();
    status.phase = "Running";
    status.nodeName = "kvm-0";
    var nic = new VirtualMachineInstanceStatus.InterfaceStatus();
    nic.name = "default";
    nic.ipAddress = "10.244.0.7";
    nic.ipAddresses = List.of("10.244.0.7", "fd10:244::7");
    nic.mac = "02:00:00:00:00:07";
    status.interfaces = List.of(nic);
    status.conditions = readyAndNotMigratable();
    status.setAdditionalProperty("volumeStatus", List.of(Map.of("name", "rootdisk")));
    vmi.setStatus(status);

    VirtualMachineInstance kept = kept(vmi);
    assertThat(kept.getSpec()).isNull();
    assertThat(kept.getMetadata().getManagedFields()).isNull();
    assertThat(kept.getMetadata().getLabels())
        .containsOnlyKeys(Names.VIRTUAL_SERVER_LABEL, Names.INSTANCE_INDEX_LABEL);
    assertThat(kept.getMetadata().getAnnotations()).containsOnlyKeys(Names.PLACEMENT_ANNOTATION);
    assertThat(Links.controller(kept)).as("whose VM it is").hasValue("5f1c0a3e-vm");
    assertThat(kept.getMetadata().getFinalizers()).isNullOrEmpty();
    assertThat(kept.getStatus().phase).isEqualTo("Running");
    assertThat(kept.getStatus().nodeName).isEqualTo("kvm-0");
    assertThat(kept.getStatus().interfaces).hasSize(1);
    var keptNic = kept.getStatus().interfaces.get(0);
    assertThat(keptNic.ipAddress).isEqualTo("10.244.0.7");
    assertThat(keptNic.name).isNull();
    assertThat(keptNic.ipAddresses).isNull();
    assertThat(keptNic.mac).isNull();
    assertThat(kept.getStatus().conditions)
        .extracting(c -> c.type + "=" + c.status + " " + c.reason + " " + c.lastTransitionTime)
        .containsExactly("Ready=True null null");
    assertThat(kept.getStatus().additionalProperties()).isEmpty();
  }

  @Test
  void valuesThatRepeatAcrossObjectsAreKeptOnceAndTheRestAsRead() {
    String json =
        """
        {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "VirtualServer",
         "metadata": {"name": "web", "namespace": "team-a", "uid": "%s",
           "creationTimestamp": "2026-12-01T00:00:00Z", "labels": {"app": "shop"},
           "finalizers": ["virtualservers.compute.nimbus.dev/finalizer"]},
         "spec": {"image": "quay.io/containerdisks/fedora:40", "instanceType": "t3.micro",
           "pool": "general", "securityGroups": ["web"]},
         "status": {"pool": "general",
           "conditions": [{"type": "Ready", "status": "False", "reason": "InstancesPending",
             "message": "0 of 1 instance(s) running", "lastTransitionTime": "%s"}],
           "instances": [{"instanceId": "i-0", "vmName": "web-0", "node": "kvm-0",
             "state": "pending"}]}}
        """;
    var serialization = new KubernetesSerialization();
    SlimItemStore<VirtualServer> store = new SlimItemStore<>();
    store.put(
        "team-a/web",
        serialization.unmarshal(
            json.formatted("uid-1", "2026-12-01T00:00:01Z"), VirtualServer.class));
    VirtualServer first = store.get("team-a/web");
    store.put(
        "team-b/web",
        serialization.unmarshal(
            json.formatted("uid-2", "2026-12-01T00:00:01Z"), VirtualServer.class));
    VirtualServer second = store.get("team-b/web");

    assertThat(second.getMetadata().getNamespace()).isSameAs(first.getMetadata().getNamespace());
    assertThat(second.getMetadata().getLabels().get("app"))
        .isSameAs(first.getMetadata().getLabels().get("app"));
    assertThat(second.getMetadata().getFinalizers().get(0))
        .isSameAs(first.getMetadata().getFinalizers().get(0));
    assertThat(second.getSpec().image()).isSameAs(first.getSpec().image());
    assertThat(second.getSpec().instanceType()).isSameAs(first.getSpec().instanceType());
    assertThat(second.getSpec().securityGroups().get(0))
        .isSameAs(first.getSpec().securityGroups().get(0));
    assertThat(second.getStatus().pool()).isSameAs(first.getStatus().pool());
    var firstReady = first.getStatus().conditions().get(0);
    var secondReady = second.getStatus().conditions().get(0);
    assertThat(secondReady.getMessage()).isSameAs(firstReady.getMessage());
    assertThat(secondReady.getReason()).isSameAs(firstReady.getReason());
    assertThat(second.getStatus().instances().get(0).node())
        .isSameAs(first.getStatus().instances().get(0).node());
    assertThat(second.getStatus().instances().get(0).state())
        .isSameAs(first.getStatus().instances().get(0).state());
    // Times that objects share (written in the same second) are held once.
    assertThat(secondReady.getLastTransitionTime()).isSameAs(firstReady.getLastTransitionTime());
    assertThat(second.getMetadata().getCreationTimestamp())
        .isSameAs(first.getMetadata().getCreationTimestamp());
    // What is the object's own is kept as read.
    assertThat(second.getMetadata().getUid()).isEqualTo("uid-2");
    assertThat(second.getStatus().instances().get(0).instanceId()).isEqualTo("i-0");
    // Equal to the status as read, so that a controller comparing a computed status to it writes
    // nothing when nothing changed.
    VirtualServer asRead =
        serialization.unmarshal(
            json.formatted("uid-2", "2026-12-01T00:00:01Z"), VirtualServer.class);
    assertThat(second.getStatus()).isEqualTo(asRead.getStatus());
    assertThat(second.getSpec()).isEqualTo(asRead.getSpec());
    asRead.getMetadata().setManagedFields(null); // dropped by the store
    assertThat(second.getMetadata()).isEqualTo(asRead.getMetadata());
    assertThat(serialization.asJson(second))
        .isEqualTo(
            serialization.asJson(
                serialization.unmarshal(
                    json.formatted("uid-2", "2026-12-01T00:00:01Z"), VirtualServer.class)));
  }

  @Test
  void aVirtualMachineIsKeptWithItsRunStrategyItsTemplatesMetadataAndTheSecretsItNamesOnly() {
    VirtualMachine vm = new VirtualMachine();
    vm.setMetadata(
        new ObjectMetaBuilder()
            .withName("web-0")
            .withNamespace("team-a")
            .addToAnnotations(Names.SPEC_DIGEST_ANNOTATION, "d1")
            .addNewManagedField()
            .withManager("nimbus")
            .endManagedField()
            .build());
    vm.getSpec().runStrategy = VirtualMachine.RUN_ALWAYS;
    vm.getSpec().template = new VirtualMachineSpec.Template();
    vm.getSpec().template.metadata =
        new ObjectMetaBuilder().addToAnnotations(Names.PLACEMENT_ANNOTATION, "kvm-0/2/4Gi").build();
    VirtualMachineInstanceSpec template = new VirtualMachineInstanceSpec();
    template.domain = new VirtualMachineInstanceSpec.Domain();
    template.domain.setAdditionalProperty("firmware", Map.of("uuid", "6f1c"));
    template.nodeSelector = Map.of("kubernetes.io/hostname", "kvm-0");
    var volume = new VirtualMachineInstanceSpec.Volume();
    volume.name = "cloudinit";
    volume.cloudInitNoCloud = new VirtualMachineInstanceSpec.CloudInitNoCloud();
    volume.cloudInitNoCloud.userDataSecretRef = new VirtualMachineInstanceSpec.SecretReference();
    volume.cloudInitNoCloud.userDataSecretRef.name = "web-user-data";
    template.volumes = List.of(volume);
    var credential = new VirtualMachineInstanceSpec.AccessCredential();
    credential.sshPublicKey = new VirtualMachineInstanceSpec.SshPublicKey();
    template.accessCredentials = List.of(credential);
    template.setAdditionalProperty("evictionStrategy", "None");
    vm.getSpec().template.spec = template;
    VirtualMachineStatus status = new VirtualMachineStatus();
    status.printableStatus = "Running";
    status.ready = true;
    status.conditions = readyAndNotMigratable();
    status.setAdditionalProperty("volumeSnapshotStatuses", List.of(Map.of("name", "rootdisk")));
    vm.setStatus(status);

    VirtualMachine kept = kept(vm);
    assertThat(kept.getMetadata().getManagedFields()).isNull();
    assertThat(kept.getMetadata().getAnnotations())
        .containsEntry(Names.SPEC_DIGEST_ANNOTATION, "d1");
    assertThat(kept.getSpec().runStrategy).isEqualTo(VirtualMachine.RUN_ALWAYS);
    assertThat(kept.getSpec().template.metadata.getAnnotations())
        .containsEntry(Names.PLACEMENT_ANNOTATION, "kvm-0/2/4Gi");
    VirtualMachineInstanceSpec keptTemplate = kept.getSpec().template.spec;
    assertThat(keptTemplate.volumes).containsExactly(volume);
    assertThat(keptTemplate.accessCredentials).containsExactly(credential);
    assertThat(keptTemplate.domain).isNull();
    assertThat(keptTemplate.nodeSelector).isNull();
    assertThat(keptTemplate.additionalProperties()).isEmpty();
    assertThat(kept.getStatus().printableStatus).isEqualTo("Running");
    assertThat(kept.getStatus().ready).isTrue();
    assertThat(kept.getStatus().conditions).isNull();
    assertThat(kept.getStatus().additionalProperties()).isEmpty();
  }

  @Test
  void nodesOfOneShapeShareTheQuantitiesTheyReport() {
    var serialization = new KubernetesSerialization();
    SlimItemStore<Node> nodes = new SlimItemStore<>();
    for (String name : List.of("kvm-0", "kvm-1")) {
      // Read from JSON, as an informer does: each node its own copy of every value.
      Node node = Fixtures.kvmNode(name, Map.of(), "8", "32Gi");
      nodes.put(name, serialization.unmarshal(serialization.asJson(node), Node.class));
    }
    Quantity first = nodes.get("kvm-0").getStatus().getAllocatable().get("memory");
    Quantity second = nodes.get("kvm-1").getStatus().getAllocatable().get("memory");
    assertThat(second).isEqualTo(first);
    assertThat(second.getAmount()).isSameAs(first.getAmount());
    assertThat(second.getFormat()).isSameAs(first.getFormat());
  }

  @Test
  void aNamesOnlyStoreKeepsANodesNameAndAShardsLabelsAndNothingElseAndLeavesTheObjectWhole() {
    Node node = Fixtures.kvmNode("kvm-0", Map.of("group", "kvm"), "8", "32Gi");
    SlimItemStore<Node> nodes = SlimItemStore.namesOnly();
    nodes.put("kvm-0", node);
    Node kept = nodes.get("kvm-0");
    assertThat(kept.getMetadata().getName()).isEqualTo("kvm-0");
    assertThat(kept.getStatus()).isNull();
    assertThat(kept.getSpec()).isNull();
    assertThat(kept.getMetadata().getAnnotations()).isNull();

    ConfigMap shard =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName("nimbus-ledger.kvm.0")
            .withNamespace("nimbus-system")
            .addToLabels(Names.POOL_LABEL, "kvm")
            .endMetadata()
            .addToData(Names.LEDGER_SHARD_KEY, "{}")
            .build();
    SlimItemStore<ConfigMap> shards = SlimItemStore.namesOnly();
    shards.put("nimbus-system/nimbus-ledger.kvm.0", shard);
    ConfigMap keptShard = shards.get("nimbus-system/nimbus-ledger.kvm.0");
    assertThat(keptShard.getMetadata().getLabels()).containsEntry(Names.POOL_LABEL, "kvm");
    assertThat(keptShard.getData()).isNull();
    // The informer's handlers get the object as it came: a shard's handler reads its data.
    assertThat(shard.getData()).containsEntry(Names.LEDGER_SHARD_KEY, "{}");
    assertThat(node.getStatus()).isNotNull();
    assertThat(shards.isFullState()).isFalse();
  }

  @Test
  void aServersNameAndUidAreKeptOnceForItAndItsVmsAndCachedMapsAreReadOnlyAndAsRead() {
    var serialization = new KubernetesSerialization();
    VirtualServer server =
        serialization.unmarshal(
            """
            {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "VirtualServer",
             "metadata": {"name": "web", "namespace": "team-a", "uid": "0b6a-uid"},
             "spec": {"image": "fedora", "instanceType": "t3.micro", "pool": "general"}}
            """,
            VirtualServer.class);
    VirtualMachine vm =
        serialization.unmarshal(
            """
            {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
             "metadata": {"name": "web-0", "namespace": "team-a", "uid": "vm-uid",
               "labels": {"compute.nimbus.dev/virtual-server": "web", "app": "shop",
                 "compute.nimbus.dev/instance-index": "0"},
               "annotations": {"compute.nimbus.dev/spec-digest": "d1"},
               "ownerReferences": [{"apiVersion": "compute.nimbus.dev/v1alpha1",
                 "kind": "VirtualServer", "name": "web", "uid": "0b6a-uid", "controller": true}]},
             "spec": {"runStrategy": "Always"}}
            """,
            VirtualMachine.class);
    Map<String, String> labelsAsRead = Map.copyOf(vm.getMetadata().getLabels());

    VirtualServer keptServer = kept(server);
    VirtualMachine keptVm = kept(vm);

    var owner = keptVm.getMetadata().getOwnerReferences().get(0);
    assertThat(owner.getName()).isSameAs(keptServer.getMetadata().getName());
    assertThat(owner.getUid()).isSameAs(keptServer.getMetadata().getUid());
    assertThat(keptVm.getMetadata().getLabels().get("compute.nimbus.dev/virtual-server"))
        .isSameAs(keptServer.getMetadata().getName());
    // Read-only, sized to their entries: nothing writes to a cached object (a write goes to a
    // copy), and a thousand servers' VMs hold several such maps each.
    assertThat(keptVm.getMetadata().getLabels()).isEqualTo(labelsAsRead);
    assertThatThrownBy(() -> keptVm.getMetadata().getLabels().put("app", "other"))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(
            () -> keptVm.getMetadata().getAnnotations().remove("compute.nimbus.dev/spec-digest"))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  /** What a store keeps of {@code object}. */
  private static <T extends HasMetadata> T kept(T object) {
    SlimItemStore<T> store = new SlimItemStore<>();
    String key = object.getMetadata().getNamespace() + "/" + object.getMetadata().getName();
    store.put(key, object);
    return store.get(key);
  }

  /** Conditions as virt-controller writes them on a running VMI and its VM. */
  private static List<KubeVirtCondition> readyAndNotMigratable() {
    var ready = new KubeVirtCondition();
    ready.type = "Ready";
    ready.status = "True";
    ready.reason = "";
    ready.lastTransitionTime = "2026-12-03T00:13:35Z";
    var migratable = new KubeVirtCondition();
    migratable.type = "LiveMigratable";
    migratable.status = "False";
    migratable.message = "cannot migrate VMI with a container disk";
    return List.of(migratable, ready);
  }
}
