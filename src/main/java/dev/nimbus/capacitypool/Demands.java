package dev.nimbus.capacitypool;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Request;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.naming.Names;
import dev.nimbus.virtualserver.LauncherOverhead;
import java.util.List;

/**
 * What a workload asks of its pool, in the model's terms. A VirtualServer asks, per instance, its
 * instance type's vCPUs and memory, between minCount and maxCount instances (none while stopped),
 * on nodes that expose KVM, each with the overhead of its KubeVirt launcher pod. A ContainerTask
 * asks, per task, its task size (1024 CPU units are one CPU, memory in MiB), for 1 to count tasks
 * as ECS places what it can and reports the rest as failures, on nodes in the zones its subnets
 * name.
 */
public final class Demands {
  private Demands() {}

  public static Request of(VirtualServer server, InstanceType type) {
    var spec = server.getSpec();
    boolean running = !Boolean.FALSE.equals(spec.running());
    int min = running ? value(spec.minCount(), 1) : 0;
    int max = running ? value(spec.maxCount(), 1) : 0;
    Amounts perInstance =
        Amounts.of(
            type.getSpec().vcpus() * 1000L, PoolModels.instanceBytes(type.getSpec().memory()), 0);
    return new Request(
        server.getMetadata().getUid(),
        perInstance,
        min,
        max,
        labels -> "true".equals(labels.get(Names.KVM_NODE_LABEL)),
        node -> LauncherOverhead.on(node, perInstance));
  }

  /** What {@code task} asks of its pool, when it runs {@code definition}. */
  public static Request of(ContainerTask task, TaskDefinition definition) {
    var spec = task.getSpec();
    Amounts perTask =
        Amounts.of(definition.cpu() * 1000L / 1024, (long) definition.memory() * 1024 * 1024, 0);
    List<String> zones =
        spec.networkConfiguration() == null
                || spec.networkConfiguration().awsvpcConfiguration() == null
                || spec.networkConfiguration().awsvpcConfiguration().subnets() == null
            ? List.of()
            : spec.networkConfiguration().awsvpcConfiguration().subnets();
    int count = value(spec.count(), 1);
    return new Request(
        task.getMetadata().getUid(),
        perTask,
        1,
        count,
        labels -> zones.isEmpty() || zones.contains(labels.get(Names.ZONE_LABEL)));
  }

  private static int value(Integer value, int fallback) {
    return value == null ? fallback : value;
  }
}
