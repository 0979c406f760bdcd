package dev.nimbus.containertask;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.capacitypool.Inventory;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.metrics.NimbusMetrics;
import dev.nimbus.naming.Names;
import dev.nimbus.validation.WorkloadValidator;
import dev.nimbus.workload.Firewall;
import dev.nimbus.workload.Writes;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Runs the tasks that admission placed: one pod per placement of the ContainerTask's ledger entry,
 * on the node the ledger chose, and an ECS-shaped status from those pods. Pods are created once and
 * never changed (a task runs once); they go with the ContainerTask through their owner reference.
 */
@ControllerConfiguration(name = "containertask")
public class ContainerTaskReconciler implements Reconciler<ContainerTask>, Cleaner<ContainerTask> {
  private static final Logger LOG = Logger.getLogger(ContainerTaskReconciler.class);
  static final Duration DELETION_RECHECK = Duration.ofSeconds(2);
  static final Duration STOP_RECHECK = Duration.ofSeconds(1);

  private final KubernetesClient client;
  private final LedgerStore ledgers;
  private final Inventory inventory;
  private final EventRecorder events;
  private final NimbusMetrics metrics;

  public ContainerTaskReconciler(
      KubernetesClient client,
      LedgerStore ledgers,
      Inventory inventory,
      EventRecorder events,
      NimbusMetrics metrics) {
    this.client = client;
    this.ledgers = ledgers;
    this.inventory = inventory;
    this.events = events;
    this.metrics = metrics;
  }

  @Override
  public List<EventSource<?, ContainerTask>> prepareEventSources(
      EventSourceContext<ContainerTask> context) {
    var pods =
        InformerEventSourceConfiguration.from(Pod.class, ContainerTask.class)
            .withLabelSelector(Names.CONTAINER_TASK_LABEL)
            .withSecondaryToPrimaryMapper(
                pod ->
                    Set.of(
                        new ResourceID(
                            pod.getMetadata().getLabels().get(Names.CONTAINER_TASK_LABEL),
                            pod.getMetadata().getNamespace())))
            .build();
    var policies =
        InformerEventSourceConfiguration.from(NetworkPolicy.class, ContainerTask.class)
            .withLabelSelector(Names.CONTAINER_TASK_LABEL)
            .withSecondaryToPrimaryMapper(
                policy ->
                    Set.of(
                        new ResourceID(
                            policy.getMetadata().getLabels().get(Names.CONTAINER_TASK_LABEL),
                            policy.getMetadata().getNamespace())))
            .build();
    // A change of a group's rules reaches the policies of every task that names it.
    var groups =
        InformerEventSourceConfiguration.from(SecurityGroup.class, ContainerTask.class)
            .withSecondaryToPrimaryMapper(
                group ->
                    context
                        .getPrimaryCache()
                        .list(group.getMetadata().getNamespace())
                        .filter(
                            task -> securityGroups(task).contains(group.getMetadata().getName()))
                        .map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
            .build();
    return List.of(
        new InformerEventSource<>(pods, context),
        new InformerEventSource<>(policies, context),
        new InformerEventSource<>(groups, context));
  }

  private static List<String> securityGroups(ContainerTask task) {
    var network = task.getSpec().networkConfiguration();
    return network == null
            || network.awsvpcConfiguration() == null
            || network.awsvpcConfiguration().securityGroups() == null
        ? List.of()
        : network.awsvpcConfiguration().securityGroups();
  }

  @Override
  public UpdateControl<ContainerTask> reconcile(
      ContainerTask task, Context<ContainerTask> context) {
    Optional<CapacityPool> pool =
        WorkloadValidator.resolvePool(
            task.getSpec().cluster(),
            WorkloadKind.ContainerTask,
            "spec.cluster",
            inventory,
            new ArrayList<>());
    if (pool.isEmpty()) {
      return UpdateControl.noUpdate();
    }
    String poolName = pool.get().getMetadata().getName();
    String uid = task.getMetadata().getUid();
    LedgerEntry entry = ledgers.entry(poolName, uid);
    List<LedgerEntry.Placement> placements = entry == null ? List.of() : entry.placements();
    // Once released, the run's tasks are still told from the status and the pods left behind.
    int placed = entry != null ? entry.count() : previouslyPlaced(task);
    applyFirewall(task, context);
    Map<Integer, Pod> pods = ensurePods(task, pool.get(), placements, context);
    stopTasksToldStopped(task, pods);
    ContainerTaskStatus status = TaskStatuses.of(task, poolName, placed, pods, this::zoneOf);
    recordStops(task, status);
    recordStarted(task, status);
    if (entry != null && TaskStatuses.allStopped(status)) {
      release(task, poolName, "every task has stopped");
    }
    if (Objects.equals(status, task.getStatus())) {
      return UpdateControl.noUpdate();
    }
    ContainerTask patch = new ContainerTask();
    patch.setMetadata(
        new ObjectMetaBuilder()
            .withName(task.getMetadata().getName())
            .withNamespace(task.getMetadata().getNamespace())
            .build());
    patch.setStatus(status);
    // A stop told in this status is carried out once the status is stored: come back for it.
    return stopsToCarryOut(status, pods)
        ? UpdateControl.patchStatus(patch).rescheduleAfter(STOP_RECHECK)
        : UpdateControl.patchStatus(patch);
  }

  /** Whether a task stopped while its pod still runs (an essential container exited). */
  private static boolean stopsToCarryOut(ContainerTaskStatus status, Map<Integer, Pod> pods) {
    for (int index = 0; index < status.tasks().size(); index++) {
      Pod pod = pods.get(index);
      if ("STOPPED".equals(status.tasks().get(index).lastStatus())
          && pod != null
          && pod.getStatus() != null
          && "Running".equals(pod.getStatus().getPhase())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Stops the tasks that the ContainerTask is deleted with (stopCode UserInitiated, recorded in its
   * status while it still exists), waits until their pods are gone, and returns the capacity.
   */
  @Override
  public DeleteControl cleanup(ContainerTask task, Context<ContainerTask> context) {
    if (task.getStatus() != null) {
      ContainerTaskStatus stopped =
          TaskStatuses.stoppedByUser(task.getStatus(), Instant.now().toString());
      if (!Objects.equals(stopped, task.getStatus())) {
        ContainerTask patch = new ContainerTask();
        patch.setMetadata(
            new ObjectMetaBuilder()
                .withName(task.getMetadata().getName())
                .withNamespace(task.getMetadata().getNamespace())
                .build());
        patch.setStatus(stopped);
        client.resource(patch).patchStatus();
        long byUser =
            stopped.tasks().stream().filter(t -> "UserInitiated".equals(t.stopCode())).count();
        events.normal(
            task,
            Reason.TaskStopped,
            byUser + " task(s) stopped with stopCode UserInitiated: the ContainerTask is deleted");
      }
    }
    var pods = context.getSecondaryResources(Pod.class);
    for (Pod pod : pods) {
      if (pod.getMetadata().getDeletionTimestamp() == null) {
        client.resource(pod).delete();
      }
    }
    if (!pods.isEmpty()) {
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(DELETION_RECHECK);
    }
    WorkloadValidator.resolvePool(
            task.getSpec().cluster(),
            WorkloadKind.ContainerTask,
            "spec.cluster",
            inventory,
            new ArrayList<>())
        .ifPresent(pool -> release(task, pool.getMetadata().getName(), "it is deleted"));
    return DeleteControl.defaultDelete();
  }

  private void release(ContainerTask task, String pool, String why) {
    String uid = task.getMetadata().getUid();
    boolean released = ledgers.release(pool, uid);
    if (released) {
      LOG.infof(
          "Released the capacity of ContainerTask %s/%s in pool %s: %s",
          task.getMetadata().getNamespace(), task.getMetadata().getName(), pool, why);
      events.normal(
          task, Reason.CapacityReleased, "returned its capacity to pool " + pool + ": " + why);
    }
  }

  /** The NetworkPolicy of the task's security groups, or none when it names none. */
  private void applyFirewall(ContainerTask task, Context<ContainerTask> context) {
    List<String> names = securityGroups(task);
    Optional<NetworkPolicy> desired = Optional.empty();
    if (!names.isEmpty()) {
      String namespace = task.getMetadata().getNamespace();
      desired =
          Optional.of(
              Firewall.desired(
                  task,
                  Names.taskNetworkPolicy(task.getMetadata().getName()),
                  Map.of(Names.CONTAINER_TASK_LABEL, task.getMetadata().getName()),
                  names.stream()
                      .map(name -> inventory.securityGroup(namespace, name))
                      .flatMap(Optional::stream)
                      .toList()));
    }
    Writes.syncPolicy(client, context.getSecondaryResource(NetworkPolicy.class), desired);
  }

  /**
   * Deletes the pods of tasks whose stop the stored status already tells (an essential container
   * exited while others ran): the exit codes are kept in the status before the pod goes.
   */
  private void stopTasksToldStopped(ContainerTask task, Map<Integer, Pod> pods) {
    if (task.getStatus() == null || task.getStatus().tasks() == null) {
      return;
    }
    var told = task.getStatus().tasks();
    for (var entry : pods.entrySet()) {
      Pod pod = entry.getValue();
      int index = entry.getKey();
      boolean stillRunning =
          pod.getMetadata().getDeletionTimestamp() == null
              && pod.getStatus() != null
              && !"Succeeded".equals(pod.getStatus().getPhase())
              && !"Failed".equals(pod.getStatus().getPhase());
      if (stillRunning && index < told.size() && "STOPPED".equals(told.get(index).lastStatus())) {
        client.resource(pod).delete();
        LOG.infof(
            "Stopped task %d of ContainerTask %s/%s: %s",
            index,
            task.getMetadata().getNamespace(),
            task.getMetadata().getName(),
            told.get(index).stoppedReason());
      }
    }
  }

  /** Times the run once every placed task has started (is RUNNING or beyond). */
  private void recordStarted(ContainerTask task, ContainerTaskStatus next) {
    if (next.tasks().isEmpty() || !allStarted(next)) {
      return;
    }
    if (task.getStatus() != null
        && task.getStatus().tasks() != null
        && allStarted(task.getStatus())) {
      return;
    }
    metrics.timeToRunning(
        "ContainerTask",
        Duration.between(Instant.parse(task.getMetadata().getCreationTimestamp()), Instant.now()));
  }

  private static boolean allStarted(ContainerTaskStatus status) {
    return !status.tasks().isEmpty()
        && status.tasks().stream()
            .allMatch(t -> "RUNNING".equals(t.lastStatus()) || "STOPPED".equals(t.lastStatus()));
  }

  /** An Event for each task that stops in this reconcile. */
  private void recordStops(ContainerTask task, ContainerTaskStatus next) {
    var before = task.getStatus() == null ? null : task.getStatus().tasks();
    for (int index = 0; index < next.tasks().size(); index++) {
      var now = next.tasks().get(index);
      boolean wasStopped =
          before != null
              && index < before.size()
              && "STOPPED".equals(before.get(index).lastStatus());
      if ("STOPPED".equals(now.lastStatus()) && !wasStopped) {
        events.normal(
            task,
            Reason.TaskStopped,
            "task " + now.taskArn() + " stopped (" + now.stopCode() + "): " + now.stoppedReason());
      }
    }
  }

  /** The pods by task index, creating those that a placement has and the cluster lacks. */
  private Map<Integer, Pod> ensurePods(
      ContainerTask task,
      CapacityPool pool,
      List<LedgerEntry.Placement> placements,
      Context<ContainerTask> context) {
    Map<Integer, Pod> byIndex = new HashMap<>();
    for (Pod pod : context.getSecondaryResources(Pod.class)) {
      String index = pod.getMetadata().getLabels().get(Names.TASK_INDEX_LABEL);
      byIndex.put(Integer.parseInt(index), pod);
    }
    for (int index = 0; index < placements.size(); index++) {
      if (byIndex.containsKey(index)) {
        continue;
      }
      Optional<Node> node = inventory.node(placements.get(index).node());
      if (node.isEmpty()) {
        continue; // the node left; the task stays PROVISIONING
      }
      var modelNode = PoolModels.node(pool.getSpec(), node.get());
      Pod desired = TaskPod.desired(task, pool, index, modelNode);
      Pod created = Writes.createOrAdopt(client, desired);
      LOG.infof(
          "Created Pod %s/%s for task %d of ContainerTask %s on node %s",
          created.getMetadata().getNamespace(),
          created.getMetadata().getName(),
          index,
          task.getMetadata().getName(),
          node.get().getMetadata().getName());
      byIndex.put(index, created);
    }
    return byIndex;
  }

  private static int previouslyPlaced(ContainerTask task) {
    return task.getStatus() == null || task.getStatus().tasks() == null
        ? 0
        : task.getStatus().tasks().size();
  }

  private String zoneOf(String node) {
    return inventory
        .node(node)
        .map(n -> n.getMetadata().getLabels())
        .map(labels -> labels.get(Names.ZONE_LABEL))
        .orElse(null);
  }
}
