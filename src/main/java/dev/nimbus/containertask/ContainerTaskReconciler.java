package dev.nimbus.containertask;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.capacitypool.Inventory;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.naming.Names;
import dev.nimbus.validation.WorkloadValidator;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * Runs the tasks that admission placed: one pod per placement of the ContainerTask's ledger entry,
 * on the node the ledger chose, and an ECS-shaped status from those pods. Pods are created once and
 * never changed (a task runs once); they go with the ContainerTask through their owner reference.
 */
@ControllerConfiguration(name = "containertask")
public class ContainerTaskReconciler implements Reconciler<ContainerTask> {
  private static final Logger LOG = Logger.getLogger(ContainerTaskReconciler.class);

  private final KubernetesClient client;
  private final LedgerStore ledgers;
  private final Inventory inventory;

  public ContainerTaskReconciler(
      KubernetesClient client, LedgerStore ledgers, Inventory inventory) {
    this.client = client;
    this.ledgers = ledgers;
    this.inventory = inventory;
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
    return List.of(new InformerEventSource<>(pods, context));
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
    LedgerEntry entry = ledgers.read(poolName).entry(uid);
    List<LedgerEntry.Placement> placements = entry == null ? List.of() : entry.placements();
    // Once released, the run's tasks are still told from the status and the pods left behind.
    int placed = entry != null ? entry.count() : previouslyPlaced(task);
    Map<Integer, Pod> pods = ensurePods(task, pool.get(), placements, context);
    ContainerTaskStatus status = TaskStatuses.of(task, poolName, placed, pods, this::zoneOf);
    if (entry != null && TaskStatuses.allStopped(status)) {
      ledgers.change(
          poolName, ledger -> LedgerStore.Change.write(ledger.without(Set.of(uid)), uid));
      LOG.infof(
          "Released the capacity of ContainerTask %s/%s in pool %s: every task has stopped",
          task.getMetadata().getNamespace(), task.getMetadata().getName(), poolName);
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
    return UpdateControl.patchStatus(patch);
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
      Pod created;
      try {
        created = client.pods().resource(desired).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        // Created by an earlier reconcile whose pod the cache has not seen yet.
        created = client.pods().resource(desired).get();
      }
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
