package dev.nimbus.containertask;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.NetworkConfiguration;
import dev.nimbus.api.v1alpha1.PlatformVersion;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.testing.ModelFixtures;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** The pod of a task, built without a cluster. */
class TaskPodTest {
  private static final Node NODE =
      ModelFixtures.node("plain-0", Amounts.of(8000, 32L << 30, 100L << 30), new Ratio(2000));

  @Test
  void aSeedShapedTaskBecomesARestrictedRunOncePodOnItsNode() {
    Pod pod = desired(task(List.of(container("hello", true))), 0);

    assertThat(pod.getMetadata().getName()).isEqualTo("hello-task-0");
    assertThat(pod.getMetadata().getLabels())
        .containsEntry("compute.nimbus.dev/containertask", "hello")
        .containsEntry("compute.nimbus.dev/assign-public-ip", "true")
        .containsKey("secgroup.compute.nimbus.dev/web");
    assertThat(pod.getMetadata().getOwnerReferences().get(0).getController()).isTrue();
    var spec = pod.getSpec();
    assertThat(spec.getRestartPolicy()).isEqualTo("Never");
    assertThat(spec.getAutomountServiceAccountToken()).isFalse();
    assertThat(spec.getRuntimeClassName()).isEqualTo("kata");
    assertThat(
            spec.getAffinity()
                .getNodeAffinity()
                .getRequiredDuringSchedulingIgnoredDuringExecution()
                .getNodeSelectorTerms()
                .get(0)
                .getMatchFields()
                .get(0)
                .getValues())
        .containsExactly("plain-0");
    // 256 CPU units = 250m and 512 MiB asked; the node's ratio is 2, so it requests half.
    Container container = spec.getContainers().get(0);
    assertThat(container.getResources().getLimits())
        .containsEntry("cpu", new Quantity("250m"))
        .containsEntry("memory", new Quantity(Long.toString(512L << 20)));
    assertThat(container.getResources().getRequests())
        .containsEntry("cpu", new Quantity("125m"))
        .containsEntry("memory", new Quantity(Long.toString(256L << 20)));
  }

  @Test
  void theDemandIsSharedByTheContainersWithTheRemainderOnTheFirst() {
    Amounts total = Amounts.of(250, 1000, 0);

    assertThat(TaskPod.share(total, 3, 0)).isEqualTo(Amounts.of(84, 334, 0));
    assertThat(TaskPod.share(total, 3, 1)).isEqualTo(Amounts.of(83, 333, 0));
    assertThat(
            TaskPod.share(total, 3, 1)
                .plus(TaskPod.share(total, 3, 2))
                .plus(TaskPod.share(total, 3, 0)))
        .isEqualTo(total);
  }

  @Test
  void anUnlistedPlatformVersionTakesTheLatestRuntimeClass() {
    assertThat(TaskPod.runtimeClass(pool(), "1.3.0")).contains("kata");
    assertThat(TaskPod.runtimeClass(pool(), "1.4.0")).contains("kata-fc");
  }

  @Property(tries = 200)
  void noTaskDefinitionGivesAPrivilegedPodOrAHostMount(
      @ForAll("containers") List<ContainerDefinition> containers) {
    Pod pod = desired(task(containers), 3);

    var spec = pod.getSpec();
    assertThat(spec.getVolumes()).isEmpty();
    assertThat(spec.getHostNetwork()).isFalse();
    assertThat(spec.getHostPID()).isFalse();
    assertThat(spec.getHostIPC()).isFalse();
    assertThat(spec.getAutomountServiceAccountToken()).isFalse();
    assertThat(spec.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(spec.getSecurityContext().getRunAsUser()).isPositive();
    assertThat(spec.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    assertThat(spec.getContainers()).hasSize(containers.size());
    for (Container container : spec.getContainers()) {
      assertThat(container.getVolumeMounts()).isEmpty();
      assertThat(container.getSecurityContext().getPrivileged()).isFalse();
      assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
      assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
      assertThat(container.getSecurityContext().getCapabilities().getAdd()).isEmpty();
    }
  }

  @Provide
  Arbitrary<List<ContainerDefinition>> containers() {
    Arbitrary<String> words =
        Arbitraries.of("--privileged", "/", "/var/run/docker.sock", "hostPath", "root", "0", "sh");
    Arbitrary<ContainerDefinition> container =
        Combinators.combine(
                Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(10),
                words,
                words.list().ofMaxSize(3),
                Arbitraries.of(true, false))
            .as(
                (name, image, args, essential) ->
                    new ContainerDefinition(
                        name,
                        image,
                        args,
                        args,
                        List.of(new ContainerDefinition.EnvVar("HOST", image)),
                        essential,
                        List.of(
                            new ContainerDefinition.PortMapping(
                                80, ContainerDefinition.Protocol.tcp))));
    return container.list().ofMinSize(1).ofMaxSize(10);
  }

  private static ContainerDefinition container(String name, boolean essential) {
    return new ContainerDefinition(
        name, "busybox:1.36", List.of("sh", "-c"), List.of("echo hi"), null, essential, null);
  }

  private static ContainerTask task(List<ContainerDefinition> containers) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(
        new ObjectMetaBuilder().withName("hello").withNamespace("default").withUid("u-1").build());
    task.setSpec(
        new ContainerTaskSpec(
            "tasks",
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition("hello", 256, 512, containers),
            1,
            "LATEST",
            new NetworkConfiguration(
                new NetworkConfiguration.AwsVpcConfiguration(
                    List.of("zone-a"),
                    List.of("web"),
                    NetworkConfiguration.AssignPublicIp.ENABLED))));
    return task;
  }

  private static CapacityPool pool() {
    CapacityPool pool = new CapacityPool();
    pool.setMetadata(new ObjectMetaBuilder().withName("tasks").build());
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelector(),
            null,
            null,
            List.of(CapacityPoolSpec.WorkloadKind.ContainerTask),
            null,
            List.of(
                new PlatformVersion("LATEST", "kata"), new PlatformVersion("1.4.0", "kata-fc"))));
    return pool;
  }

  private static Pod desired(ContainerTask task, int index) {
    return TaskPod.desired(task, task.getSpec().taskDefinition(), pool(), index, NODE);
  }
}
