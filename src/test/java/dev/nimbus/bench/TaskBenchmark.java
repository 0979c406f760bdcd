package dev.nimbus.bench;

import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.StoredLedgers;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;

/**
 * 1,000 tasks (100 ContainerTasks of count 10) on 100 KWOK nodes, run by one operator replica. Each
 * task's container runs for {@link #RUN_FOR} and exits 0 (the local cluster's KWOK stage for task
 * containers). Measures, in one run: the time from the first create until every task has reached
 * RUNNING, until every task has STOPPED, until every ContainerTask is deleted and its capacity
 * returned, and, as the yardstick, the rate at which the same client creates ConfigMaps on this API
 * server. Run by {@code bench/tasks.sh}.
 */
public final class TaskBenchmark {
  private static final String POOL = "bench-tasks";
  private static final String OPERATOR_NAMESPACE = "nimbus-bench-tasks";
  private static final String NAMESPACE = "bench-tasks";
  private static final String YARDSTICK_NAMESPACE = "bench-tasks-yardstick";
  private static final int PER_RUN = 10;
  private static final String RUN_FOR = "30s";

  private TaskBenchmark() {}

  public static void main(String[] args) {
    BenchMain.runThenExit(TaskBenchmark::run, args);
  }

  private static void run(String[] args) throws Exception {
    int tasks = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    int runs = tasks / PER_RUN;
    KubernetesClient client = LocalCluster.client();
    setUp(client, nodes);
    double yardstick =
        BenchClients.createAll(
            client,
            tasks,
            i ->
                new ConfigMapBuilder()
                    .withNewMetadata()
                    .withName("cm-" + i)
                    .withNamespace(YARDSTICK_NAMESPACE)
                    .endMetadata()
                    .addToData("key", "value")
                    .build());
    client.namespaces().withName(YARDSTICK_NAMESPACE).delete();
    OperatorProcess operator =
        OperatorProcess.start(
            "bench-tasks-operator",
            OperatorOptions.replica(
                OPERATOR_NAMESPACE, 19545, "https://127.0.0.1:19545", "nimbus-bench-tasks"));
    try {
      Thread.sleep(3000); // the API server picks up the new webhook configuration
      long start = System.nanoTime();
      double createRate = BenchClients.createAll(client, runs, i -> run("run-" + i));
      double created = seconds(start);
      double allRunning = -1;
      long peak = 0;
      while (true) {
        Thread.sleep(1000);
        peak = Math.max(peak, operator.residentKiB()[0]);
        List<ContainerTaskStatus.Task> seen =
            client.resources(ContainerTask.class).inNamespace(NAMESPACE).list().getItems().stream()
                .filter(t -> t.getStatus() != null && t.getStatus().tasks() != null)
                .flatMap(t -> t.getStatus().tasks().stream())
                .toList();
        long started =
            seen.stream()
                .filter(t -> List.of("RUNNING", "STOPPED").contains(t.lastStatus()))
                .count();
        long stopped = seen.stream().filter(t -> t.lastStatus().equals("STOPPED")).count();
        if (allRunning < 0 && started == tasks) {
          allRunning = seconds(start);
        }
        if (stopped == tasks) {
          break;
        }
        if (seconds(start) > 1800) {
          throw new IllegalStateException(
              started + " started and " + stopped + " stopped of " + tasks + " in 30 min");
        }
      }
      double allStopped = seconds(start);
      long[] memory = operator.residentKiB();
      System.out.printf(
          "tasks: %d in %d ContainerTasks of %d, on %d KWOK nodes, %d client threads; each task's"
              + " container runs %s%n",
          tasks, runs, PER_RUN, nodes, BenchClients.THREADS, RUN_FOR);
      System.out.printf("yardstick: ConfigMap creates by the same client: %.0f/s%n", yardstick);
      System.out.printf(
          "ContainerTask creates (webhook on): %.0f/s, all stored after %.1f s%n",
          createRate, created);
      System.out.printf(
          "every task RUNNING (or beyond) after %.1f s from the first create%n", allRunning);
      System.out.printf("every task STOPPED after %.1f s from the first create%n", allStopped);
      System.out.printf(
          "operator resident memory: peak %d MiB (VmHWM), highest sampled %d MiB%n",
          memory[1] / 1024, peak / 1024);
      System.out.flush();
      long deleteStart = System.nanoTime();
      BenchClients.deleteAll(client, runs, i -> run("run-" + i));
      while (!client
              .resources(ContainerTask.class)
              .inNamespace(NAMESPACE)
              .list()
              .getItems()
              .isEmpty()
          || !ledgerEmpty(client)) {
        Thread.sleep(1000);
      }
      System.out.printf(
          "all deleted and their capacity returned %.1f s after the deletes began%n",
          seconds(deleteStart));
    } finally {
      operator.close();
      tearDown(client, nodes);
    }
  }

  private static double seconds(long since) {
    return (System.nanoTime() - since) / 1e9;
  }

  private static ContainerTask run(String name) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NAMESPACE).build());
    task.setSpec(
        new ContainerTaskSpec(
            POOL,
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(
                "bench",
                256,
                512,
                List.of(
                    new ContainerDefinition(
                        "main",
                        "busybox:1.36",
                        null,
                        null,
                        List.of(
                            new ContainerDefinition.EnvVar("NIMBUS_LOCAL_EXIT_CODE", "0"),
                            new ContainerDefinition.EnvVar("NIMBUS_LOCAL_RUN_FOR", RUN_FOR)),
                        true,
                        null))),
            PER_RUN,
            "LATEST",
            null));
    return task;
  }

  private static boolean ledgerEmpty(KubernetesClient client) {
    return StoredLedgers.read(client, OPERATOR_NAMESPACE, POOL).entries().isEmpty();
  }

  private static void setUp(KubernetesClient client, int nodes) {
    for (String namespace : List.of(OPERATOR_NAMESPACE, NAMESPACE, YARDSTICK_NAMESPACE)) {
      client
          .namespaces()
          .resource(
              new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .serverSideApply();
    }
    BenchPools.create(
        client,
        POOL,
        "bench-task",
        Map.of(Names.ZONE_LABEL, "zone-a"),
        nodes,
        1.0,
        CapacityPoolSpec.WorkloadKind.ContainerTask);
  }

  private static void tearDown(KubernetesClient client, int nodes) {
    client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName("nimbus-bench-tasks")
        .delete();
    for (ContainerTask left :
        client.resources(ContainerTask.class).inNamespace(NAMESPACE).list().getItems()) {
      client
          .resource(left)
          .edit(
              t -> {
                t.getMetadata().setFinalizers(List.of());
                return t;
              });
    }
    client.namespaces().withName(NAMESPACE).delete();
    BenchPools.delete(client, POOL, "bench-task", nodes);
  }
}
