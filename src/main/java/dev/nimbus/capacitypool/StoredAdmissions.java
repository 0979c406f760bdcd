package dev.nimbus.capacitypool;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerStatus;
import dev.nimbus.inventory.Catalog;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.ReservedAt;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The reservations that stored workloads show they were admitted: where their status says each
 * instance or task is placed, sized as their spec asks. What a lost ledger shard is rebuilt from.
 * Nothing here talks to the cluster.
 */
public final class StoredAdmissions {
  private static final String STOPPED = "STOPPED";

  private StoredAdmissions() {}

  /**
   * The entries of {@code pool} that {@code servers} and {@code tasks} show, made at {@code at};
   * {@code model} has the pool's nodes, on which an instance's overhead is counted.
   */
  public static List<LedgerEntry> of(
      String pool,
      Pool model,
      List<VirtualServer> servers,
      List<ContainerTask> tasks,
      Catalog catalog,
      Instant at) {
    List<LedgerEntry> entries = new ArrayList<>();
    for (VirtualServer server : servers) {
      VirtualServerStatus status = server.getStatus();
      if (status == null || !pool.equals(status.pool()) || status.instances() == null) {
        continue;
      }
      var type = catalog.instanceType(server.getSpec().instanceType());
      if (type.isEmpty()) {
        continue; // its size is not known: nothing is rebuilt for it
      }
      Request request = Demands.of(server, type.get());
      List<String> nodes = new ArrayList<>();
      int admitted = Objects.requireNonNullElse(status.admittedCount(), 0);
      for (int index = 0; index < admitted && index < status.instances().size(); index++) {
        var instance = status.instances().get(index);
        if (!Names.serverVm(server.getMetadata().getName(), index).equals(instance.vmName())
            || instance.node() == null) {
          break;
        }
        nodes.add(instance.node());
      }
      add(
          entries,
          server,
          status.observedGeneration(),
          server.getSpec().maxCount(),
          nodes,
          request,
          model,
          at);
    }
    for (ContainerTask task : tasks) {
      ContainerTaskStatus status = task.getStatus();
      if (status == null || !pool.equals(status.cluster()) || status.tasks() == null) {
        continue;
      }
      if (status.tasks().stream().allMatch(t -> STOPPED.equals(t.lastStatus()))) {
        continue; // a finished run holds nothing
      }
      var definition = catalog.taskDefinition(task);
      if (definition.isEmpty()) {
        continue; // the revision it names is gone: its size is not known, nothing is rebuilt
      }
      Request request = Demands.of(task, definition.get());
      List<String> nodes = new ArrayList<>();
      for (int index = 0; index < status.tasks().size(); index++) {
        var one = status.tasks().get(index);
        if (!Names.taskPod(task.getMetadata().getName(), index).equals(one.podName())
            || one.node() == null) {
          break;
        }
        nodes.add(one.node());
      }
      add(
          entries,
          task,
          status.observedGeneration(),
          task.getSpec().count(),
          nodes,
          request,
          model,
          at);
    }
    return entries;
  }

  private static void add(
      List<LedgerEntry> entries,
      HasMetadata workload,
      Long observedGeneration,
      Integer desired,
      List<String> nodes,
      Request request,
      Pool model,
      Instant at) {
    if (!nodes.isEmpty()) {
      entries.add(placed(workload, observedGeneration, desired, nodes, request, model, at));
    }
  }

  /**
   * The entry of {@code workload} whose instances, of {@code request}, are on {@code nodes} in
   * index order, for {@code generation} (the workload's own when null), made at {@code at}: what
   * its placements hold, whatever room they leave.
   */
  public static LedgerEntry placed(
      HasMetadata workload,
      Long generation,
      Integer desired,
      List<String> nodes,
      Request request,
      Pool model,
      Instant at) {
    Map<String, Node> byName = new HashMap<>();
    model.nodes().forEach(node -> byName.put(node.name(), node));
    // On a node that left the pool no overhead is known: the instance holds its demand.
    List<Reservation.Placement> placements =
        nodes.stream()
            .map(
                node ->
                    new Reservation.Placement(
                        node,
                        request.perInstance(),
                        byName.containsKey(node)
                            ? request.overheadOn().apply(byName.get(node))
                            : Amounts.ZERO))
            .toList();
    return LedgerEntry.of(
        workload.getKind(),
        workload.getMetadata().getNamespace(),
        workload.getMetadata().getName(),
        desired == null ? nodes.size() : desired,
        new Reservation(workload.getMetadata().getUid(), placements),
        ReservedAt.onThisReplica(at),
        generation != null ? generation : workload.getMetadata().getGeneration());
  }
}
