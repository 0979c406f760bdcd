package dev.nimbus.chart;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.RetriedCreate;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One tenant's namespace filled with the largest objects the CRDs admit: 1,000 SecurityGroups of 60
 * peers each way and 1,000 ContainerTasks of ten containers holding 64 KiB of text each, every task
 * naming 5 of the groups (ECS's most). The operator runs from its image as the chart's Deployment
 * runs it, in a memory cgroup of the chart's limit; it must run every task and stay within that
 * limit, never killed for memory.
 */
@ExtendWith(LocalCluster.class)
class OperatorMemoryIT {
  private static final String OPERATOR_NAMESPACE = "nimbus-memory-it";
  private static final String RELEASE = "nimbus-memory";
  private static final String POOL = "it-memory";
  private static final String NODE_PREFIX = "it-memory";
  private static final int NODES = 8;
  private static final int PORT = 20243;
  private static final int COUNT = 1000;
  private static final int GROUPS_PER_TASK = 5;
  private static final ResourceDefinitionContext GROUPS =
      ResourceDefinitionContext.fromResourceType(SecurityGroup.class);
  private static final ResourceDefinitionContext TASKS =
      ResourceDefinitionContext.fromResourceType(ContainerTask.class);

  // The test's namespace, for the cleanup below.
  private static String workloadNamespace;

  @AfterAll
  static void removeWhatTheTestMade() {
    KubernetesClient client = LocalCluster.client();
    if (workloadNamespace != null) {
      // Whatever the test left (it deletes all while its operator runs, unless it failed first):
      // every later test's operator would cache these maximal objects, so they go here, their
      // finalizers with them, as no operator is left to release them.
      for (GenericKubernetesResource task :
          client
              .genericKubernetesResources(TASKS)
              .inNamespace(workloadNamespace)
              .list()
              .getItems()) {
        client
            .genericKubernetesResources(TASKS)
            .inNamespace(workloadNamespace)
            .withName(task.getMetadata().getName())
            .edit(
                t -> {
                  t.getMetadata().setFinalizers(null);
                  return t;
                });
      }
      client.genericKubernetesResources(TASKS).inNamespace(workloadNamespace).delete();
      client.genericKubernetesResources(GROUPS).inNamespace(workloadNamespace).delete();
      client.pods().inNamespace(workloadNamespace).withGracePeriod(0).delete();
      client.network().networkPolicies().inNamespace(workloadNamespace).delete();
    }
    client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName(RELEASE)
        .delete();
    client.resources(CapacityPool.class).withName(POOL).delete();
    for (int i = 0; i < NODES; i++) {
      client.nodes().withName(NODE_PREFIX + "-" + i).delete();
    }
    client.rbac().clusterRoleBindings().withName(OPERATOR_NAMESPACE).delete();
    client.namespaces().withName(OPERATOR_NAMESPACE).delete();
  }

  @Test
  void aNamespaceOfMaximalGroupsAndTasksRunsWithinTheChartsMemoryLimit(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    workloadNamespace = namespace.name();
    String token = clusterAdminToken(client);
    createPool(client);
    OperatorImageRun image = OperatorImageRun.of(client, renderedDeployment(), OPERATOR_NAMESPACE);
    try (OperatorProcess operator =
        image.start(
            "it-memory-operator",
            token,
            Map.of(
                "NIMBUS_WEBHOOK_HOST", "127.0.0.1",
                "NIMBUS_WEBHOOK_PORT", Integer.toString(PORT),
                "NIMBUS_WEBHOOK_URL", "https://127.0.0.1:" + PORT,
                "NIMBUS_WEBHOOK_EXTRA_HOSTS", "127.0.0.1",
                "QUARKUS_HTTP_PORT", "0"))) {
      try (WatchedTasks tasks = new WatchedTasks(client, namespace.name())) {
        long deleting;
        try {
          long start = System.nanoTime();
          createAll(client, i -> maximalGroup(namespace.name(), i));
          createAll(client, i -> maximalTask(namespace.name(), i));
          long created = System.nanoTime();
          awaitEveryTaskReady(tasks);
          System.out.printf(
              "%d maximal groups and tasks created in %d s, all tasks Ready %d s later%n",
              COUNT,
              TimeUnit.NANOSECONDS.toSeconds(created - start),
              TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - created));
          image.assertFitsItsMemoryLimit(operator);
        } finally {
          deleting = System.nanoTime();
          deleteAll(client, namespace.name());
        }
        awaitTasksAndPodsGone(client, namespace.name(), tasks);
        System.out.printf(
            "every task and pod gone %d s after the first delete%n",
            TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - deleting));
      }
    }
  }

  /**
   * Deletes every task and group while the operator runs, which releases the tasks' finalizers: one
   * delete per object, as a collection delete of 1,000 such objects outlasts a request's timeout.
   * Never throws, so that a failure of the test is the one reported.
   */
  private static void deleteAll(KubernetesClient client, String namespace) {
    try {
      forEach(i -> client.resource(maximalTask(namespace, i)).delete());
      forEach(i -> client.resource(maximalGroup(namespace, i)).delete());
    } catch (Exception e) {
      System.out.println("Deleting the test's tasks and groups failed: " + e);
    }
  }

  /** The chart's Deployment as `helm template` renders it with its defaults. */
  private static Deployment renderedDeployment() throws Exception {
    String rendered =
        String.join(
            "\n",
            ChartIT.helm(
                "template",
                RELEASE,
                ChartIT.chart().toString(),
                "-n",
                OPERATOR_NAMESPACE,
                "--show-only",
                "templates/deployment.yaml"));
    return Serialization.unmarshal(rendered, Deployment.class);
  }

  /**
   * A token of a ServiceAccount that may do anything: what is measured here is memory; the chart's
   * rights are ChartIT's to prove.
   */
  private static String clusterAdminToken(KubernetesClient client) {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(OPERATOR_NAMESPACE)
                .endMetadata()
                .build())
        .serverSideApply();
    client
        .serviceAccounts()
        .inNamespace(OPERATOR_NAMESPACE)
        .resource(
            new ServiceAccountBuilder()
                .withNewMetadata()
                .withName(RELEASE)
                .withNamespace(OPERATOR_NAMESPACE)
                .endMetadata()
                .build())
        .serverSideApply();
    client
        .rbac()
        .clusterRoleBindings()
        .resource(
            new ClusterRoleBindingBuilder()
                .withNewMetadata()
                .withName(OPERATOR_NAMESPACE)
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", "cluster-admin")
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName(RELEASE)
                .withNamespace(OPERATOR_NAMESPACE)
                .endSubject()
                .build())
        .serverSideApply();
    return client
        .serviceAccounts()
        .inNamespace(OPERATOR_NAMESPACE)
        .withName(RELEASE)
        .tokenRequest(
            new TokenRequestBuilder().withNewSpec().withExpirationSeconds(7200L).endSpec().build())
        .getStatus()
        .getToken();
  }

  /** Nodes in eight zones, with room for every task, and the pool of them. */
  private static void createPool(KubernetesClient client) {
    for (int i = 0; i < NODES; i++) {
      client
          .nodes()
          .resource(
              Fixtures.plainNode(
                  NODE_PREFIX + "-" + i,
                  Map.of("nimbus-memory-it/pool", POOL, "topology.kubernetes.io/zone", "zone-" + i),
                  // 256 tasks at most by CPU: within a node's 500 pod slots.
                  "64",
                  "256Gi"))
          .serverSideApply();
    }
    client
        .resource(
            Fixtures.pool(
                POOL, "nimbus-memory-it/pool", POOL, CapacityPoolSpec.WorkloadKind.ContainerTask))
        .serverSideApply();
  }

  /**
   * Creates COUNT objects from 8 threads, again while the API server asks to retry (429) or times
   * out under this load (a slow webhook call, a request past the client's timeout); any other
   * refusal, a 500 above all, fails the test.
   */
  private static void createAll(KubernetesClient client, IntFunction<GenericKubernetesResource> of)
      throws Exception {
    RetriedCreate create =
        new RetriedCreate(
            code -> code == 0 || code == 429 || code == 504, 12, Duration.ofMillis(500));
    forEach(i -> create.send(client, of.apply(i)));
  }

  /** Runs {@code action} for 0 to COUNT - 1 from 8 threads. */
  private static void forEach(IntConsumer action) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> calls = new ArrayList<>();
      for (int i = 0; i < COUNT; i++) {
        int index = i;
        calls.add(threads.submit(() -> action.accept(index)));
      }
      for (Future<?> call : calls) {
        call.get(10, TimeUnit.MINUTES);
      }
    } finally {
      threads.shutdownNow();
    }
  }

  /**
   * Waits until every task is Ready, and finds none stopped before its deletion: nothing here stops
   * a task, and on an API server this loaded the operator's cache of pods lags behind the pods it
   * creates, which must never read as a pod removed.
   */
  private static void awaitEveryTaskReady(WatchedTasks tasks) throws InterruptedException {
    // On a 2-core machine the API server and KWOK are the bound here (12 minutes in one run).
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(15);
    while (System.nanoTime() < deadline && tasks.ready() < COUNT) {
      assertThat(tasks.stoppedBeforeDeletion()).as("ContainerTasks with a task stopped").isEmpty();
      Thread.sleep(2000);
    }
    assertThat(tasks.stoppedBeforeDeletion()).as("ContainerTasks with a task stopped").isEmpty();
    assertThat(tasks.ready()).as("ContainerTasks Ready").isEqualTo(COUNT);
  }

  private static void awaitTasksAndPodsGone(
      KubernetesClient client, String namespace, WatchedTasks tasks) throws InterruptedException {
    // KWOK ends the 1,000 pods at about 1.5 a second on a 2-core machine (12 minutes in one run,
    // the deletes included), and each task waits for its pod.
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(15);
    while (System.nanoTime() < deadline
        && (!tasks.left().isEmpty() || !firstTask(client, namespace).isEmpty())) {
      Thread.sleep(2000);
    }
    assertThat(tasks.left()).as("ContainerTasks left").isEmpty();
    assertThat(firstTask(client, namespace)).as("ContainerTasks left").isEmpty();
    // And their pods, which the garbage collector and KWOK remove after them: a later test must
    // not share the cluster with 1,000 deletions in flight.
    while (System.nanoTime() < deadline
        && !client.pods().inNamespace(namespace).list(FIRST_ONLY).getItems().isEmpty()) {
      Thread.sleep(2000);
    }
  }

  private static final ListOptions FIRST_ONLY = new ListOptionsBuilder().withLimit(1L).build();

  /** One task of the namespace, if any is left: the API server's word, in one small page. */
  private static List<GenericKubernetesResource> firstTask(
      KubernetesClient client, String namespace) {
    return client
        .genericKubernetesResources(TASKS)
        .inNamespace(namespace)
        .list(FIRST_ONLY)
        .getItems();
  }

  /**
   * The namespace's tasks as one watch sees them, every version once: the test reads the 1,000
   * maximal tasks (65 MB) from its cache instead of listing them again and again from an API server
   * that is the bound of this test. A relist after a lost watch reads pages of 50.
   */
  private static final class WatchedTasks
      implements ResourceEventHandler<GenericKubernetesResource>, AutoCloseable {
    private final SharedIndexInformer<GenericKubernetesResource> informer;
    private final Set<String> stoppedBeforeDeletion = ConcurrentHashMap.newKeySet();

    WatchedTasks(KubernetesClient client, String namespace) {
      informer =
          client
              .genericKubernetesResources(TASKS)
              .inNamespace(namespace)
              .withLimit(50L)
              .inform(this);
    }

    @Override
    public void onAdd(GenericKubernetesResource task) {
      look(task);
    }

    @Override
    public void onUpdate(GenericKubernetesResource before, GenericKubernetesResource task) {
      look(task);
    }

    @Override
    public void onDelete(GenericKubernetesResource task, boolean finalStateUnknown) {}

    private void look(GenericKubernetesResource task) {
      if (task.getMetadata().getDeletionTimestamp() == null && stoppedAny(status(task))) {
        stoppedBeforeDeletion.add(task.getMetadata().getName());
      }
    }

    Set<String> stoppedBeforeDeletion() {
      return Set.copyOf(stoppedBeforeDeletion);
    }

    long ready() {
      return informer.getStore().list().stream()
          .map(WatchedTasks::status)
          .filter(ChartIT::isReady)
          .count();
    }

    /** The tasks still stored, each with its status, for a failure's message. */
    List<Object> left() {
      return informer.getStore().list().stream().map(WatchedTasks::status).toList();
    }

    private static Object status(GenericKubernetesResource task) {
      return task.getAdditionalProperties().get("status");
    }

    private static boolean stoppedAny(Object status) {
      return status instanceof Map<?, ?> map
          && map.get("stoppedCount") instanceof Number stopped
          && stopped.intValue() > 0;
    }

    @Override
    public void close() {
      informer.close();
    }
  }

  private static String groupName(int i) {
    return "maximal-group-" + String.format("%049d", i);
  }

  /**
   * The largest group the CRD admits, near enough: a 255-character description, 60 ingress rules
   * (30 of a CIDR block, 30 of a 63-character group name) and 60 egress rules of IPv6 blocks.
   */
  private static GenericKubernetesResource maximalGroup(String namespace, int i) {
    List<Map<String, Object>> ingress = new ArrayList<>();
    List<Map<String, Object>> egress = new ArrayList<>();
    for (int r = 0; r < 60; r++) {
      Map<String, Object> in = new LinkedHashMap<>();
      in.put("protocol", "tcp");
      in.put("fromPort", 1000 + r);
      in.put("toPort", 2000 + r);
      if (r % 2 == 0) {
        in.put("cidrBlocks", List.of("10." + (r % 250) + "." + (i % 250) + ".0/24"));
      } else {
        in.put("securityGroups", List.of(groupName((i + r) % COUNT)));
      }
      ingress.add(in);
      egress.add(
          Map.of(
              "protocol",
              "udp",
              "fromPort",
              3000 + r,
              "toPort",
              4000 + r,
              "cidrBlocks",
              List.of(String.format("2001:db8:%04x:%04x:%04x:%04x:%04x::/112", i, r, i, r, i))));
    }
    return new GenericKubernetesResourceBuilder()
        .withApiVersion("compute.nimbus.dev/v1alpha1")
        .withKind("SecurityGroup")
        .withMetadata(
            new ObjectMetaBuilder().withName(groupName(i)).withNamespace(namespace).build())
        .addToAdditionalProperties(
            "spec", Map.of("description", "d".repeat(255), "ingress", ingress, "egress", egress))
        .build();
  }

  /**
   * The largest task the CRD admits, near enough: ten containers, each with a 512-character image,
   * 4 command and 2 args entries and 16 variables, 65,360 characters of text in all; 16 subnets, 16
   * groups.
   */
  private static GenericKubernetesResource maximalTask(String namespace, int i) {
    List<Map<String, Object>> containers = new ArrayList<>();
    for (int c = 0; c < 10; c++) {
      List<Map<String, Object>> env = new ArrayList<>();
      for (int e = 0; e < 16; e++) {
        env.add(
            Map.of(
                "name",
                String.format("VARIABLE_%02d_", e) + "X".repeat(19),
                "value",
                "v".repeat(290)));
      }
      List<Map<String, Object>> ports = new ArrayList<>();
      for (int p = 0; p < 32; p++) {
        ports.add(Map.of("containerPort", 10000 + c * 100 + p, "protocol", "tcp"));
      }
      Map<String, Object> container = new LinkedHashMap<>();
      container.put("name", "container-" + c);
      container.put("image", "registry.example.com/" + "i".repeat(485) + ":1.0");
      container.put(
          "command", List.of("c".repeat(100), "c".repeat(100), "c".repeat(100), "c".repeat(100)));
      container.put("args", List.of("a".repeat(500), "a".repeat(500)));
      container.put("env", env);
      container.put("essential", c == 0);
      container.put("ports", ports);
      containers.add(container);
    }
    Map<String, Object> definition = new LinkedHashMap<>();
    definition.put("family", "maximal");
    definition.put("cpu", 256);
    definition.put("memory", 512);
    definition.put("containers", containers);
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("cluster", POOL);
    spec.put("launchType", "FARGATE");
    spec.put("taskDefinition", definition);
    spec.put("count", 1);
    spec.put(
        "networkConfiguration",
        Map.of(
            "awsvpcConfiguration",
            Map.of(
                "subnets", IntStream.range(0, 16).mapToObj(z -> "zone-" + z).toList(),
                "securityGroups",
                    IntStream.range(0, GROUPS_PER_TASK)
                        .mapToObj(g -> groupName((i + g) % COUNT))
                        .toList())));
    return new GenericKubernetesResourceBuilder()
        .withApiVersion("compute.nimbus.dev/v1alpha1")
        .withKind("ContainerTask")
        .withMetadata(
            new ObjectMetaBuilder()
                .withName(String.format("maximal-task-%04d", i))
                .withNamespace(namespace)
                .build())
        .addToAdditionalProperties("spec", spec)
        .build();
  }
}
