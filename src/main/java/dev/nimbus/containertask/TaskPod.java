package dev.nimbus.containertask;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Resource;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.NetworkConfiguration;
import dev.nimbus.api.v1alpha1.PlatformVersion;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.Links;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The pod that runs one task of a ContainerTask, built from the task, its pool and the node the
 * ledger placed it on. Nothing a user writes can loosen it: every pod gets the restricted Pod
 * Security profile (non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp), no
 * service-account token, no host namespaces and no volumes at all; the API has no field that could
 * ask for more, and this builder reads none from anywhere else.
 */
public final class TaskPod {
  /** The user and group every task container runs as: never root, whatever the image says. */
  static final long TASK_USER = 65532;

  private TaskPod() {}

  /**
   * The desired pod of task {@code index} running {@code definition}, pinned to {@code node}. The
   * task's demand (its cpu and memory) is divided over the containers, the first taking any
   * remainder; each container's limits are its share of the demand and its requests that share
   * divided by the node's ratio, so the scheduler's view of the node matches the ledger's.
   */
  public static Pod desired(
      ContainerTask task, TaskDefinition definition, CapacityPool pool, int index, Node node) {
    var spec = task.getSpec();
    Amounts demand =
        Amounts.of(definition.cpu() * 1000L / 1024, (long) definition.memory() << 20, 0);
    List<ContainerDefinition> definitions = definition.containers();
    List<Container> containers = new ArrayList<>();
    for (int i = 0; i < definitions.size(); i++) {
      Amounts share = share(demand, definitions.size(), i);
      containers.add(container(definitions.get(i), share, node.requestsFor(share)));
    }
    String name = task.getMetadata().getName();
    return new PodBuilder()
        .withNewMetadata()
        .withName(Names.taskPod(name, index))
        .withNamespace(task.getMetadata().getNamespace())
        .withLabels(labels(task, index))
        .withOwnerReferences(Links.controlledBy(task))
        .withFinalizers(Names.TASK_POD_FINALIZER)
        .endMetadata()
        .withNewSpec()
        .withRestartPolicy("Never")
        .withAutomountServiceAccountToken(false)
        .withEnableServiceLinks(false)
        .withHostNetwork(false)
        .withHostPID(false)
        .withHostIPC(false)
        .withRuntimeClassName(runtimeClass(pool, spec.platformVersion()).orElse(null))
        .withNewSecurityContext()
        .withRunAsNonRoot(true)
        .withRunAsUser(TASK_USER)
        .withRunAsGroup(TASK_USER)
        .withNewSeccompProfile()
        .withType("RuntimeDefault")
        .endSeccompProfile()
        .endSecurityContext()
        .withAffinity(Links.pinnedTo(node.name()))
        .withContainers(containers)
        .endSpec()
        .build();
  }

  /** The pool's runtime class for the version, else its LATEST entry, else none. */
  static Optional<String> runtimeClass(CapacityPool pool, String platformVersion) {
    List<PlatformVersion> versions = pool.getSpec().platformVersions();
    if (versions == null) {
      return Optional.empty();
    }
    String wanted = platformVersion == null ? "LATEST" : platformVersion;
    return versions.stream()
        .filter(v -> v.version().equals(wanted))
        .findFirst()
        .or(() -> versions.stream().filter(v -> v.version().equals("LATEST")).findFirst())
        .map(PlatformVersion::runtimeClassName);
  }

  private static Map<String, String> labels(ContainerTask task, int index) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(Names.MANAGED_BY, "nimbus");
    labels.put(Names.CONTAINER_TASK_LABEL, task.getMetadata().getName());
    labels.put(Names.TASK_INDEX_LABEL, Integer.toString(index));
    NetworkConfiguration network = task.getSpec().networkConfiguration();
    if (network != null && network.awsvpcConfiguration() != null) {
      var vpc = network.awsvpcConfiguration();
      if (vpc.securityGroups() != null) {
        vpc.securityGroups().forEach(group -> labels.put(Names.securityGroupLabel(group), ""));
      }
      if (vpc.assignPublicIp() == NetworkConfiguration.AssignPublicIp.ENABLED) {
        labels.put(Names.PUBLIC_IP_LABEL, "true");
      }
    }
    return labels;
  }

  private static Container container(
      ContainerDefinition definition, Amounts limits, Amounts requests) {
    List<EnvVar> env =
        definition.env() == null
            ? List.of()
            : definition.env().stream().map(e -> new EnvVar(e.name(), e.value(), null)).toList();
    List<ContainerPort> ports =
        definition.ports() == null
            ? List.of()
            : definition.ports().stream()
                .map(
                    p ->
                        new ContainerPortBuilder()
                            .withContainerPort(p.containerPort())
                            .withProtocol(
                                (p.protocol() == null ? "tcp" : p.protocol().name())
                                    .toUpperCase(Locale.ROOT))
                            .build())
                .toList();
    return new ContainerBuilder()
        .withName(definition.name())
        .withImage(definition.image())
        .withCommand(definition.command())
        .withArgs(definition.args())
        .withEnv(env)
        .withPorts(ports)
        .withNewResources()
        .withRequests(quantities(requests))
        .withLimits(quantities(limits))
        .endResources()
        .withNewSecurityContext()
        .withPrivileged(false)
        .withAllowPrivilegeEscalation(false)
        .withRunAsNonRoot(true)
        .withNewCapabilities()
        .withDrop("ALL")
        .endCapabilities()
        .endSecurityContext()
        .build();
  }

  /** Container {@code i}'s part of {@code total} split over {@code n}; the first takes the rest. */
  static Amounts share(Amounts total, int n, int i) {
    long cpu = total.get(Resource.CPU) / n;
    long memory = total.get(Resource.MEMORY) / n;
    if (i == 0) {
      cpu += total.get(Resource.CPU) % n;
      memory += total.get(Resource.MEMORY) % n;
    }
    return Amounts.of(cpu, memory, 0);
  }

  private static Map<String, Quantity> quantities(Amounts amounts) {
    return Map.of(
        "cpu", new Quantity(amounts.get(Resource.CPU) + "m"),
        "memory", new Quantity(Long.toString(amounts.get(Resource.MEMORY))));
  }
}
