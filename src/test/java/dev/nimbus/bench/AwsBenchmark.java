package dev.nimbus.bench;

import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.AwsSdkClients;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.services.ec2.Ec2Client;

/**
 * The AWS API's latency as a client sees it, through the AWS SDK for Java v2 over HTTPS: {@code
 * RunInstances} calls of one instance each from {@link BenchClients#THREADS} threads (each call
 * creates a VirtualServer through the webhook and answers once the controller reports its
 * instance), then {@code DescribeInstances} of every instance of the namespace, one call at a time,
 * once every instance runs and the cluster is quiet again. One operator replica with the real
 * virt-controller, KWOK nodes. Run by {@code bench/aws.sh}.
 */
public final class AwsBenchmark {
  private static final String POOL = "bench-aws";
  private static final String OPERATOR_NAMESPACE = "nimbus-bench-aws";
  private static final String NAMESPACE = "bench-aws";
  private static final String ROLE = "bench-aws-caller";
  private static final String TYPE = "bench.small";
  private static final String IMAGE = "ami-0c55b159cbfafe1f0";
  private static final int AWS_PORT = 19644;
  private static final int WEBHOOK_PORT = 19643;

  private AwsBenchmark() {}

  public static void main(String[] args) {
    BenchMain.runThenExit(AwsBenchmark::run, args);
  }

  private static void run(String[] args) throws Exception {
    int instances = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    int describes = args.length > 2 ? Integer.parseInt(args[2]) : 100;
    KubernetesClient client = LocalCluster.client();
    setUp(client, nodes);
    OperatorProcess operator =
        OperatorProcess.forTests(
            "bench-aws-operator",
            OPERATOR_NAMESPACE,
            WEBHOOK_PORT,
            Map.of(
                "nimbus.aws.enabled", "true",
                "nimbus.aws.host", "127.0.0.1",
                "nimbus.aws.port", Integer.toString(AWS_PORT)));
    try {
      Path caFile = Files.createTempFile("nimbus-bench-aws-ca", ".crt");
      Files.write(
          caFile,
          Base64.getDecoder()
              .decode(
                  client
                      .secrets()
                      .inNamespace(OPERATOR_NAMESPACE)
                      .withName("nimbus-webhook-tls")
                      .get()
                      .getData()
                      .get("ca.crt")));
      String keyId = "AKIANIMBUSBENCHAWS01";
      String secret = "bench-" + UUID.randomUUID();
      issueKey(client, keyId, secret);
      try (Ec2Client ec2 =
          AwsSdkClients.of(
              Ec2Client.builder(),
              URI.create("https://127.0.0.1:" + AWS_PORT),
              caFile,
              keyId,
              secret)) {
        awaitKeyKnown(ec2);
        List<Long> runs = Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        AtomicInteger next = new AtomicInteger();
        ExecutorService threads = Executors.newFixedThreadPool(BenchClients.THREADS);
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < BenchClients.THREADS; t++) {
          workers.add(
              threads.submit(
                  () -> {
                    for (int i; (i = next.getAndIncrement()) < instances; ) {
                      String token = "bench-" + i;
                      long began = System.nanoTime();
                      ec2.runInstances(
                          r ->
                              r.imageId(IMAGE)
                                  .minCount(1)
                                  .maxCount(1)
                                  .instanceType(TYPE)
                                  .clientToken(token)
                                  .placement(p -> p.groupName(POOL)));
                      runs.add(System.nanoTime() - began);
                    }
                    return null;
                  }));
        }
        for (Future<?> worker : workers) {
          worker.get();
        }
        threads.shutdown();
        double runSeconds = (System.nanoTime() - start) / 1e9;
        // Describes are measured once the cluster is quiet again: every instance running.
        int running = 0;
        while (running < instances) {
          Thread.sleep(2000);
          running =
              (int)
                  ec2.describeInstances().reservations().stream()
                      .flatMap(r -> r.instances().stream())
                      .filter(i -> "running".equals(i.state().nameAsString()))
                      .count();
          if ((System.nanoTime() - start) / 1e9 > 1800) {
            throw new IllegalStateException("only " + running + " running after 30 min");
          }
        }
        double allRunning = (System.nanoTime() - start) / 1e9;

        List<Long> describeTimes = new ArrayList<>();
        int shown = 0;
        for (int i = 0; i < describes; i++) {
          long began = System.nanoTime();
          shown =
              ec2.describeInstances().reservations().stream()
                  .mapToInt(r -> r.instances().size())
                  .sum();
          describeTimes.add(System.nanoTime() - began);
        }
        long[] memory = operator.residentKiB();
        System.out.printf(
            "RunInstances: %d calls of one instance from %d threads in %.1f s (%.1f calls/s);"
                + " latency p50 %.0f ms, p99 %.0f ms, max %.0f ms%n",
            instances,
            BenchClients.THREADS,
            runSeconds,
            instances / runSeconds,
            percentile(runs, 50),
            percentile(runs, 99),
            percentile(runs, 100));
        System.out.printf(
            "all %d instances running (DescribeInstances) %.1f s after the first call%n",
            instances, allRunning);
        System.out.printf(
            "DescribeInstances of all %d instances (one page), %d calls one after another:"
                + " p50 %.0f ms, p99 %.0f ms, max %.0f ms%n",
            shown,
            describes,
            percentile(describeTimes, 50),
            percentile(describeTimes, 99),
            percentile(describeTimes, 100));
        System.out.printf(
            "operator resident memory: peak %d MiB (VmHWM), at the end %d MiB%n",
            memory[1] / 1024, memory[0] / 1024);
      }
    } finally {
      operator.close();
      tearDown(client, nodes);
    }
  }

  private static double percentile(List<Long> nanos, int percentile) {
    List<Long> sorted = new ArrayList<>(nanos);
    Collections.sort(sorted);
    int index = (int) Math.ceil(percentile / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index))) / 1e6;
  }

  /** Retries until the operator's watch has delivered the key, as a client would. */
  private static void awaitKeyKnown(Ec2Client ec2) throws InterruptedException {
    for (int attempt = 0; ; attempt++) {
      try {
        ec2.describeInstanceTypes(r -> {});
        return;
      } catch (software.amazon.awssdk.services.ec2.model.Ec2Exception e) {
        if (attempt > 60) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }

  private static void issueKey(KubernetesClient client, String keyId, String secret) {
    client
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("aws-key-" + keyId.toLowerCase(Locale.ROOT))
                .withNamespace(OPERATOR_NAMESPACE)
                .addToLabels(Names.ACCESS_KEY_LABEL, "true")
                .addToAnnotations(Names.ACCESS_KEY_NAMESPACE_ANNOTATION, NAMESPACE)
                .addToAnnotations(
                    Names.ACCESS_KEY_USER_ANNOTATION,
                    "system:serviceaccount:" + NAMESPACE + ":caller")
                .endMetadata()
                .withType(Names.ACCESS_KEY_SECRET_TYPE)
                .addToStringData("accessKeyId", keyId)
                .addToStringData("secretAccessKey", secret)
                .build())
        .serverSideApply();
  }

  private static void setUp(KubernetesClient client, int nodes) throws Exception {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    client
        .resource(
            new ServiceAccountBuilder()
                .withNewMetadata()
                .withName("caller")
                .withNamespace(NAMESPACE)
                .endMetadata()
                .build())
        .serverSideApply();
    client
        .resource(
            new ClusterRoleBuilder()
                .withNewMetadata()
                .withName(ROLE)
                .endMetadata()
                .addNewRule()
                .withApiGroups("compute.nimbus.dev")
                .withResources("virtualservers", "instancetypes", "machineimages")
                .withVerbs("get", "list", "create", "patch", "delete")
                .endRule()
                .build())
        .serverSideApply();
    client
        .resource(
            new ClusterRoleBindingBuilder()
                .withNewMetadata()
                .withName(ROLE)
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", ROLE)
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName("caller")
                .withNamespace(NAMESPACE)
                .endSubject()
                .build())
        .serverSideApply();
    client.resource(Fixtures.instanceType(TYPE, 1, "1Gi")).serverSideApply();
    client.resource(Fixtures.sampleMachineImage(client)).serverSideApply();
    BenchPools.create(
        client,
        POOL,
        "bench-aws",
        Map.of(),
        nodes,
        4.0,
        CapacityPoolSpec.WorkloadKind.VirtualServer);
  }

  private static void tearDown(KubernetesClient client, int nodes) {
    // Servers left lose their finalizer: no operator is left to honour it.
    for (VirtualServer left :
        client.resources(VirtualServer.class).inNamespace(NAMESPACE).list().getItems()) {
      client
          .resource(left)
          .edit(
              s -> {
                s.getMetadata().setFinalizers(List.of());
                return s;
              });
    }
    client.namespaces().withName(NAMESPACE).delete();
    client.rbac().clusterRoles().withName(ROLE).delete();
    client.rbac().clusterRoleBindings().withName(ROLE).delete();
    BenchPools.delete(client, POOL, "bench-aws", nodes);
  }
}
