package dev.nimbus.containertask;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.capacitypool.Demands;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.NamespacedReconciler;
import dev.nimbus.config.NimbusConfig;
import dev.nimbus.config.Retries;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.inventory.SlimItemStore;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.metrics.NimbusMetrics;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.AdmittedPool;
import dev.nimbus.workload.Links;
import dev.nimbus.workload.LostNodes;
import dev.nimbus.workload.LostShards;
import dev.nimbus.workload.PagedLists;
import dev.nimbus.workload.Readmission;
import dev.nimbus.workload.Readmission.Restored;
import dev.nimbus.workload.Releases;
import dev.nimbus.workload.SecurityGroupPolicy;
import dev.nimbus.workload.Writes;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import org.jboss.logging.Logger;

/**
 * Runs the tasks that admission placed: one pod per placement of the ContainerTask's ledger entry,
 * on the node the ledger chose, and an ECS-shaped status from those pods. A task runs once: its pod
 * is created only while the status has never seen it, and the pod's finalizer holds it until the
 * status tells how the task stopped, so a pod that is deleted, evicted or lost with its node makes
 * its task STOPPED, never started again. Pods go with the ContainerTask through their owner
 * reference.
 */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
// The primary cache keeps no managedFields: every replica holds every workload, warm for a
// failover.
@ControllerConfiguration(
    name = "containertask",
    finalizerName = Names.TASK_FINALIZER,
    informer =
        @Informer(informerListLimit = PagedLists.INFORMER_PAGE, itemStore = SlimItemStore.class))
public class ContainerTaskReconciler
    implements NamespacedReconciler<ContainerTask>, Cleaner<ContainerTask> {
  private static final Logger LOG = Logger.getLogger(ContainerTaskReconciler.class);
  static final Duration DELETION_RECHECK = Duration.ofSeconds(2);
  static final Duration STOP_RECHECK = Duration.ofSeconds(1);

  /** Refused writes of a deleted task's stops before the reconcile fails and JOSDK retries it. */
  private static final int STOP_WRITE_ATTEMPTS = 3;

  static final String GROUP_SOURCE = "securitygroups";

  private final KubernetesClient client;
  private final LedgerStore ledgers;
  private final Inventory inventory;
  private final EventRecorder events;
  private final NimbusMetrics metrics;
  private final Releases releases;
  private final Readmission readmission;
  private final NimbusConfig config;
  private final WatchedNamespaces watched;

  public ContainerTaskReconciler(
      KubernetesClient client,
      LedgerStore ledgers,
      Inventory inventory,
      EventRecorder events,
      NimbusMetrics metrics,
      Releases releases,
      Readmission readmission,
      NimbusConfig config,
      WatchedNamespaces watched) {
    this.watched = watched;
    this.readmission = readmission;
    this.config = config;
    this.client = client;
    this.ledgers = ledgers;
    this.inventory = inventory;
    this.events = events;
    this.metrics = metrics;
    this.releases = releases;
  }

  @Override
  public WatchedNamespaces watchedNamespaces() {
    return watched;
  }

  @Override
  public List<EventSource<?, ContainerTask>> prepareEventSources(
      EventSourceContext<ContainerTask> context) {
    var pods =
        InformerEventSourceConfiguration.from(Pod.class, ContainerTask.class)
            .withLabelSelector(Names.CONTAINER_TASK_LABEL)
            .withSecondaryToPrimaryMapper(ContainerTaskReconciler::byTaskLabel)
            .withItemStore(new SlimItemStore<>())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .build();
    var policies =
        InformerEventSourceConfiguration.from(NetworkPolicy.class, ContainerTask.class)
            .withLabelSelector(Names.CONTAINER_TASK_LABEL)
            .withSecondaryToPrimaryMapper(ContainerTaskReconciler::byTaskLabel)
            .withItemStore(new SlimItemStore<>())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .build();
    // A change of a group's rules reaches the policies of every task that names it.
    var groups =
        InformerEventSourceConfiguration.from(SecurityGroup.class, ContainerTask.class)
            .withName(GROUP_SOURCE)
            .withSecondaryToPrimaryMapper(
                group ->
                    SecurityGroupPolicy.workloadsNaming(
                        group,
                        context.getPrimaryCache().list(group.getMetadata().getNamespace()),
                        ContainerTaskReconciler::securityGroups))
            .withItemStore(new SlimItemStore<>())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .build();
    return List.of(
        new InformerEventSource<>(pods, context),
        new InformerEventSource<>(policies, context),
        new InformerEventSource<>(groups, context),
        // A node that goes stops the tasks on it; only its deletion matters here.
        LostNodes.source(
            ContainerTask.class,
            context,
            (node, task) ->
                task.getStatus() == null || !TaskStatuses.allStopped(task.getStatus())));
  }

  private static Set<ResourceID> byTaskLabel(HasMetadata object) {
    String task = object.getMetadata().getLabels().get(Names.CONTAINER_TASK_LABEL);
    return task == null
        ? Set.of()
        : Set.of(new ResourceID(task, object.getMetadata().getNamespace()));
  }

  /** The nodes the task's status shows its tasks on. */
  private static List<String> statusNodes(ContainerTask task) {
    return task.getStatus() == null || task.getStatus().tasks() == null
        ? List.of()
        : task.getStatus().tasks().stream().map(t -> t.node()).filter(Objects::nonNull).toList();
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
    Optional<Duration> kept =
        StoppedRunRetention.remaining(
            task, task.getStatus(), config.aws().stoppedTaskRetention(), Instant.now());
    if (kept.isPresent() && (kept.get().isNegative() || kept.get().isZero())) {
      client.resource(task).delete();
      LOG.infof(
          "Deleted ContainerTask %s/%s: RunTask started it and its tasks stopped %s ago",
          task.getMetadata().getNamespace(),
          task.getMetadata().getName(),
          config.aws().stoppedTaskRetention());
      return UpdateControl.noUpdate();
    }
    Optional<CapacityPool> pool =
        AdmittedPool.of(
            task,
            task.getSpec().cluster(),
            task.getStatus() == null ? null : task.getStatus().cluster(),
            WorkloadKind.ContainerTask,
            inventory,
            ledgers);
    if (pool.isEmpty()) {
      return UpdateControl.noUpdate();
    }
    Optional<TaskDefinition> definition = definition(task);
    if (definition.isEmpty()) {
      // Its revision was deleted between admission and the first look at the run: nothing can
      // start until it is registered again.
      events.warning(
          task,
          Reason.TaskDefinitionMissing,
          "task definition "
              + task.getSpec().taskDefinitionRef()
              + " is not registered in namespace "
              + task.getMetadata().getNamespace()
              + "; the tasks start once it is registered again");
      return UpdateControl.<ContainerTask>noUpdate().rescheduleAfter(Readmission.RECHECK);
    }
    String poolName = pool.get().getMetadata().getName();
    if (LostShards.onLost(ledgers, poolName, statusNodes(task))) {
      return UpdateControl.<ContainerTask>noUpdate().rescheduleAfter(LostShards.RECHECK);
    }
    // As this replica's watch shows it: a reservation it has not shown yet is looked for as stored
    // only where one would be made (the readmission below), not at every reconcile of every run
    // that has ended.
    LedgerEntry entry = ledgers.recent(poolName).entry(task.getMetadata().getUid());
    Optional<Duration> waitsForLedger = Optional.empty();
    if (entry == null && previouslyPlaced(task) == 0) {
      // A pod with the task's labels that it does not control (a tenant's) is not one of its tasks.
      Map<Integer, Pod> started = podsByIndex(task, context);
      if (started.isEmpty()) {
        // Stored, never started, and holding no reservation: see Readmission.
        entry =
            readmission
                .reserve(
                    task,
                    task.getStatus() == null ? null : task.getStatus().conditions(),
                    pool.get(),
                    Demands.of(task, definition.get()),
                    Objects.requireNonNullElse(task.getSpec().count(), 1))
                .orElse(null);
        if (entry == null) {
          waitsForLedger = Optional.of(Readmission.RECHECK);
        }
      } else if (started.values().stream().anyMatch(ContainerTaskReconciler::holdsItsNode)) {
        Restored restored = restore(task, definition.get(), pool.get(), started);
        entry = restored.entry();
        if (restored.waits()) {
          waitsForLedger = Optional.of(LostShards.RECHECK); // a lost shard's rebuild comes first
        }
      }
    }
    List<String> placementNodes =
        entry == null
            ? List.of()
            : entry.placements().stream().map(LedgerEntry.Placement::node).toList();
    // Once released, the run's tasks are still told from the status and the pods left behind.
    int placed = entry != null ? entry.count() : previouslyPlaced(task);
    Predicate<String> nodeExists = LostNodes.exists(context);
    var securityGroups = applySecurityGroups(task, context);
    Map<Integer, Pod> pods = podsByIndex(task, context);
    readPodsTheCacheLacks(task, pods);
    Starts starts =
        startTasksNeverStarted(
            task, definition.get(), pool.get(), placementNodes, pods, nodeExists);
    letStoppedTasksGo(task, pods, nodeExists);
    ContainerTaskStatus status =
        TaskStatuses.of(
            task,
            new TaskStatuses.Observed(
                poolName,
                placed,
                placementNodes,
                pods,
                this::zoneOf,
                nodeExists,
                Instant.now(),
                securityGroups,
                definition.get()));
    recordStops(task, status);
    recordStarted(task, status);
    if (entry != null && TaskStatuses.allStopped(status)) {
      releases.release(task, poolName, "every task has stopped");
    }
    Optional<Duration> recheck;
    if (starts.waitForNode()) {
      recheck = Optional.of(STOP_RECHECK);
    } else if (waitsForLedger.isPresent()) {
      recheck = waitsForLedger;
    } else if (starts.nameTaken()) {
      recheck = Optional.of(Writes.NAME_TAKEN_RECHECK); // freeing a name brings no event
    } else {
      recheck = nextCheck(status, pods);
    }
    // A run the API started is looked at again when its retention ends, as the status now says.
    Optional<Duration> due =
        StoppedRunRetention.remaining(
                task, status, config.aws().stoppedTaskRetention(), Instant.now())
            .map(left -> left.compareTo(STOP_RECHECK) < 0 ? STOP_RECHECK : left);
    if (due.isPresent() && (recheck.isEmpty() || due.get().compareTo(recheck.get()) < 0)) {
      recheck = due;
    }
    UpdateControl<ContainerTask> control = StatusPatch.ifChanged(task, status, ContainerTask::new);
    return recheck.map(control::rescheduleAfter).orElse(control);
  }

  /**
   * When to look again without an event: a stop told in this status is carried out once it is
   * stored (the pod let go), and a deleted pod's task stops when its grace period ends.
   */
  private static Optional<Duration> nextCheck(ContainerTaskStatus status, Map<Integer, Pod> pods) {
    Optional<Duration> next = Optional.empty();
    for (var entry : pods.entrySet()) {
      int index = entry.getKey();
      Pod pod = entry.getValue();
      if (index >= status.tasks().size()) {
        continue;
      }
      boolean stopped = TaskStatuses.STOPPED.equals(status.tasks().get(index).lastStatus());
      if (stopped && holdsFinalizer(pod)) {
        return Optional.of(STOP_RECHECK);
      }
      String deletion = pod.getMetadata().getDeletionTimestamp();
      if (!stopped && deletion != null) {
        Duration untilGraceEnds =
            Duration.between(Instant.now(), Instant.parse(deletion)).plus(STOP_RECHECK);
        Duration wait = untilGraceEnds.isNegative() ? STOP_RECHECK : untilGraceEnds;
        next = next.filter(d -> d.compareTo(wait) <= 0).or(() -> Optional.of(wait));
      }
    }
    return next;
  }

  /**
   * Stops the tasks that the ContainerTask is deleted with (stopCode UserInitiated, recorded in its
   * status while it still exists), lets their pods go and waits until they are gone, and returns
   * the capacity. A pod counts as gone only once the API server no longer has it: the cache may not
   * hold it yet (or any more, if its label was removed), and capacity returned while it is stored
   * would be promised twice.
   */
  @Override
  public DeleteControl cleanup(ContainerTask task, Context<ContainerTask> context) {
    recordStopsByUser(task);
    // Every stop is stored now (or the run never had a status): each pod may go.
    Map<Integer, Pod> pods = podsByIndex(task, context);
    readEveryPodTheCacheLacks(task, pods);
    Predicate<String> nodeExists = LostNodes.exists(context);
    for (Pod pod : pods.values()) {
      letGo(pod, nodeExists);
    }
    if (!pods.isEmpty()) {
      return DeleteControl.noFinalizerRemoval().rescheduleAfter(DELETION_RECHECK);
    }
    releases.releaseDeleted(task);
    return DeleteControl.defaultDelete();
  }

  /**
   * Stores the stops of a deleted ContainerTask's tasks onto the version it was computed from. The
   * cache may not hold the newest version yet (this cleanup's own earlier write, or the last
   * reconcile's status): a refused write reads the task again and computes the stops anew, so a
   * deletion never waits on the cache, and a status stored meanwhile (an exit code) is never
   * overwritten with an older one.
   */
  private void recordStopsByUser(ContainerTask task) {
    ContainerTask observed = task;
    for (int attempt = 1; observed != null && observed.getStatus() != null; attempt++) {
      ContainerTaskStatus stopped =
          TaskStatuses.stoppedByUser(observed.getStatus(), Instant.now().toString());
      if (Objects.equals(stopped, observed.getStatus())) {
        return;
      }
      try {
        client.resource(StatusPatch.of(observed, stopped, ContainerTask::new)).patchStatus();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 || attempt == STOP_WRITE_ATTEMPTS) {
          throw e;
        }
        observed = client.resource(task).get();
        continue;
      }
      long byUser =
          stopped.tasks().stream().filter(t -> "UserInitiated".equals(t.stopCode())).count();
      events.normal(
          task,
          Reason.TaskStopped,
          byUser + " task(s) stopped with stopCode UserInitiated: the ContainerTask is deleted");
      return;
    }
  }

  /** The NetworkPolicy of the task's security groups, or none when it names none. */
  private SecurityGroupPolicy.Outcome applySecurityGroups(
      ContainerTask task, Context<ContainerTask> context) {
    return SecurityGroupPolicy.apply(
        client,
        SecurityGroupPolicy.groupsIn(context, GROUP_SOURCE, task.getMetadata().getNamespace()),
        task,
        Names.taskNetworkPolicy(task.getMetadata().getName()),
        Map.of(Names.CONTAINER_TASK_LABEL, task.getMetadata().getName()),
        securityGroups(task),
        context.getSecondaryResource(NetworkPolicy.class));
  }

  /**
   * Lets go of the pods whose task the stored status already tells STOPPED: a pod still running (an
   * essential container exited while others run) is deleted, one whose node is gone is deleted at
   * once, and the finalizer goes. Only a stop read back from the stored status counts, so that
   * every later reconcile sees it too and never starts the task again.
   */
  private void letStoppedTasksGo(
      ContainerTask task, Map<Integer, Pod> pods, Predicate<String> nodeExists) {
    if (task.getStatus() == null || task.getStatus().tasks() == null) {
      return;
    }
    var told = task.getStatus().tasks();
    for (var entry : pods.entrySet()) {
      int index = entry.getKey();
      if (index < told.size() && TaskStatuses.STOPPED.equals(told.get(index).lastStatus())) {
        Pod pod = entry.getValue();
        if (stillRunning(pod)) {
          LOG.infof(
              "Stopping task %d of ContainerTask %s/%s: %s",
              index,
              task.getMetadata().getNamespace(),
              task.getMetadata().getName(),
              told.get(index).stoppedReason());
        }
        letGo(pod, nodeExists);
      }
    }
  }

  /** Whether {@code pod} may still hold its node: it has not finished. */
  private static boolean holdsItsNode(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    return !"Succeeded".equals(phase) && !"Failed".equals(phase);
  }

  private static boolean stillRunning(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() == null
        && pod.getStatus() != null
        && !"Succeeded".equals(pod.getStatus().getPhase())
        && !"Failed".equals(pod.getStatus().getPhase());
  }

  /** Deletes a pod that still runs (at once where its node is gone) and drops its finalizer. */
  private void letGo(Pod pod, Predicate<String> nodeExists) {
    String node = pod.getSpec().getNodeName();
    boolean nodeGone = node != null && !nodeExists.test(node);
    if (nodeGone && !Long.valueOf(0).equals(pod.getMetadata().getDeletionGracePeriodSeconds())) {
      // No kubelet will confirm the end of a pod whose node is gone.
      client.resource(pod).withGracePeriod(0).delete();
    } else if (stillRunning(pod)) {
      client.resource(pod).delete();
    }
    if (holdsFinalizer(pod)) {
      removeFinalizer(pod);
    }
  }

  private static boolean holdsFinalizer(Pod pod) {
    return pod.getMetadata().getFinalizers() != null
        && pod.getMetadata().getFinalizers().contains(Names.TASK_POD_FINALIZER);
  }

  private void removeFinalizer(Pod pod) {
    int at = pod.getMetadata().getFinalizers().indexOf(Names.TASK_POD_FINALIZER);
    // The test op makes the removal fail, instead of removing another finalizer, if the list moved.
    String patch =
        "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/%d\",\"value\":\"%s\"},{\"op\":\"remove\",\"path\":\"/metadata/finalizers/%d\"}]"
            .formatted(at, Names.TASK_POD_FINALIZER, at);
    try {
      client
          .pods()
          .inNamespace(pod.getMetadata().getNamespace())
          .withName(pod.getMetadata().getName())
          .patch(PatchContext.of(PatchType.JSON), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404 && e.getCode() != 422) {
        throw e;
      }
      // Gone already, or the list changed: the pod's next event brings another try.
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

  /**
   * A reservation made again where a run's started tasks are while it holds none and one of them
   * still runs; see {@link Readmission#restore}. Empty, and logged, where a task's node is not
   * known (a pod's node, else the node it is pinned to) for every task 0 to n - 1: a reservation of
   * fewer would leave the others out.
   */
  private Restored restore(
      ContainerTask task, TaskDefinition definition, CapacityPool pool, Map<Integer, Pod> started) {
    List<String> nodes = new ArrayList<>();
    for (int index = 0; index < started.size(); index++) {
      Optional<String> node =
          Optional.ofNullable(started.get(index)).flatMap(ContainerTaskReconciler::nodeOf);
      if (node.isEmpty()) {
        return Restored.notKnown(task, "where task " + index + " of " + started.keySet() + " runs");
      }
      nodes.add(node.get());
    }
    return Restored.as(
        readmission.restore(
            task,
            pool,
            Demands.of(task, definition),
            Objects.requireNonNullElse(task.getSpec().count(), 1),
            nodes));
  }

  /** Where a task's pod runs: its node, else the node it is pinned to. */
  private static Optional<String> nodeOf(Pod pod) {
    if (pod.getSpec().getNodeName() != null) {
      return Optional.of(pod.getSpec().getNodeName());
    }
    return Links.pinnedNode(pod.getSpec().getAffinity());
  }

  /**
   * The task's pods in the cache, by the index their names give: those it controls. A pod that
   * carries its labels and is not its (a tenant's own) is never taken for one of its tasks, stopped
   * or deleted.
   */
  private static Map<Integer, Pod> podsByIndex(ContainerTask task, Context<ContainerTask> context) {
    Map<Integer, Pod> byIndex = new HashMap<>();
    for (Pod pod : context.getSecondaryResources(Pod.class)) {
      if (Links.isControlledBy(pod, task)) {
        Names.taskPodIndex(task.getMetadata().getName(), pod.getMetadata().getName())
            .ifPresent(index -> byIndex.put(index, pod));
      }
    }
    return byIndex;
  }

  /**
   * Reads from the API server the pods that the stored status has seen and the cache does not hold.
   * The cache lags behind the pods this controller creates (on a loaded API server, by seconds: the
   * status write that follows a create brings the next reconcile first) and behind everything
   * during a relist; a pod only missing from the cache must never read as one removed, which stops
   * its task for good.
   */
  private void readPodsTheCacheLacks(ContainerTask task, Map<Integer, Pod> pods) {
    readBack(task, pods, seen -> !TaskStatuses.STOPPED.equals(seen.lastStatus()));
  }

  /**
   * Reads from the API server every pod that the stored status has seen and the cache does not
   * hold, those of stopped tasks too: a deletion waits for each of them.
   */
  private void readEveryPodTheCacheLacks(ContainerTask task, Map<Integer, Pod> pods) {
    readBack(task, pods, seen -> true);
  }

  private void readBack(
      ContainerTask task, Map<Integer, Pod> pods, Predicate<ContainerTaskStatus.Task> wanted) {
    if (task.getStatus() == null || task.getStatus().tasks() == null) {
      return;
    }
    var told = task.getStatus().tasks();
    for (int index = 0; index < told.size(); index++) {
      var seen = told.get(index);
      if (pods.containsKey(index)
          || seen.createdAt() == null
          || seen.podName() == null
          || !wanted.test(seen)) {
        continue;
      }
      Pod stored =
          client
              .pods()
              .inNamespace(task.getMetadata().getNamespace())
              .withName(seen.podName())
              .get();
      if (stored != null && Links.isControlledBy(stored, task)) {
        pods.put(index, stored);
      }
    }
  }

  /**
   * Whether a task still waits for the pool's view of its node, and whether a task's pod name is
   * held by a pod that is not the task's (never adopted: the task waits until the name is free).
   */
  private record Starts(boolean waitForNode, boolean nameTaken) {}

  /**
   * Creates the pod of every placed task that has never had one: one the stored status neither
   * tells STOPPED nor has seen a pod of. A task whose pod is gone is never started again.
   */
  private Starts startTasksNeverStarted(
      ContainerTask task,
      TaskDefinition definition,
      CapacityPool pool,
      List<String> placementNodes,
      Map<Integer, Pod> pods,
      Predicate<String> nodeExists) {
    var told =
        task.getStatus() == null || task.getStatus().tasks() == null
            ? List.<ContainerTaskStatus.Task>of()
            : task.getStatus().tasks();
    boolean waiting = false;
    boolean nameTaken = false;
    for (int index = 0; index < placementNodes.size(); index++) {
      boolean seen =
          index < told.size()
              && (TaskStatuses.STOPPED.equals(told.get(index).lastStatus())
                  || told.get(index).createdAt() != null);
      if (pods.containsKey(index) || seen || !nodeExists.test(placementNodes.get(index))) {
        continue; // a node that is gone stops the task instead (TaskStatuses)
      }
      Optional<Node> node = inventory.node(placementNodes.get(index));
      if (node.isEmpty()) {
        waiting = true; // the pool's view of the node lags behind this controller's
        continue;
      }
      var modelNode = PoolModels.node(pool.getSpec(), node.get());
      Pod desired = TaskPod.desired(task, definition, pool, index, modelNode);
      Optional<Pod> adopted = Writes.createOrAdopt(client, desired);
      if (adopted.isEmpty()) {
        nameTaken = true;
        events.warning(task, Reason.NameTaken, Writes.nameTaken(desired, "task " + index));
        continue;
      }
      Pod created = adopted.get();
      LOG.infof(
          "Created Pod %s/%s for task %d of ContainerTask %s on node %s",
          created.getMetadata().getNamespace(),
          created.getMetadata().getName(),
          index,
          task.getMetadata().getName(),
          node.get().getMetadata().getName());
      pods.put(index, created);
    }
    return new Starts(waiting, nameTaken);
  }

  /**
   * What the task runs: its own definition, the revision its status recorded when the run was first
   * seen, or the revision it names as registered now.
   */
  private Optional<TaskDefinition> definition(ContainerTask task) {
    if (task.getSpec().taskDefinitionRef() != null
        && task.getStatus() != null
        && task.getStatus().taskDefinition() != null) {
      return Optional.of(task.getStatus().taskDefinition());
    }
    return inventory.taskDefinition(task);
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
