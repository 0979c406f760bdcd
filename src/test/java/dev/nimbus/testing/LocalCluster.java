package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension for {@code *IT} tests: runs them against the real local control plane, or, with
 * {@code -Pk3s}, against a Testcontainers k3s cluster (skipped where Docker is absent).
 *
 * <p>Once per test run it starts the cluster with {@code hack/cluster.sh up} unless one is already
 * up (which also builds the binaries on a new machine, printing progress), and installs the CRDs
 * from {@code crds/}; KubeVirt's control plane runs in the cluster. Each test gets a {@link
 * KubernetesClient} and a fresh {@link TestNamespace}; when a test fails, the namespace's objects
 * and events are printed, and the namespace is deleted after every test.
 */
public final class LocalCluster
    implements ExecutionCondition, BeforeEachCallback, AfterEachCallback, ParameterResolver {
  private static final Duration CRD_ESTABLISHED = Duration.ofSeconds(60);
  private static KubernetesClient sharedClient;
  private static Path kubeconfig;

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    if (K3sCluster.selected() && !K3sCluster.dockerAvailable()) {
      return ConditionEvaluationResult.disabled(
          "the k3s target needs a Docker engine and none runs here; skipped, not failed");
    }
    return ConditionEvaluationResult.enabled("cluster target: " + target());
  }

  private static String target() {
    return K3sCluster.selected() ? "Testcontainers " + K3sCluster.IMAGE : "local control plane";
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    String name =
        "it-"
            + context.getRequiredTestClass().getSimpleName().toLowerCase(Locale.ROOT)
            + "-"
            + UUID.randomUUID().toString().substring(0, 8);
    clientFor(context)
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
    store(context).put(TestNamespace.class, new TestNamespace(name));
  }

  @Override
  public void afterEach(ExtensionContext context) {
    TestNamespace namespace = store(context).get(TestNamespace.class, TestNamespace.class);
    if (namespace == null) {
      return;
    }
    if (context.getExecutionException().isPresent()) {
      Diagnostics.dump(clientFor(context), namespace.name(), System.out);
    }
    clientFor(context).namespaces().withName(namespace.name()).delete();
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == KubernetesClient.class || type == TestNamespace.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    if (parameter.getParameter().getType() == KubernetesClient.class) {
      return clientFor(context);
    }
    return store(context).get(TestNamespace.class, TestNamespace.class);
  }

  private static ExtensionContext.Store store(ExtensionContext context) {
    return context.getStore(
        ExtensionContext.Namespace.create(LocalCluster.class, context.getUniqueId()));
  }

  /** The client of the API server that {@code context}'s test class runs against. */
  private static KubernetesClient clientFor(ExtensionContext context) {
    return context.getRequiredTestClass().isAnnotationPresent(OldestKubernetes.class)
        ? OldestApiServer.client()
        : client();
  }

  /** The admin client of the local cluster, started and set up on first use. */
  public static synchronized KubernetesClient client() {
    if (sharedClient == null) {
      kubeconfig = startCluster();
      KubernetesClient client;
      try {
        Config config = Config.fromKubeconfig(Files.readString(kubeconfig));
        config.setRequestTimeout(30_000);
        client = new KubernetesClientBuilder().withConfig(config).build();
      } catch (IOException e) {
        throw new IllegalStateException("cannot read " + kubeconfig, e);
      }
      installCrds(client);
      // A webhook left behind by an interrupted local run would refuse what the tests create.
      client
          .admissionRegistration()
          .v1()
          .validatingWebhookConfigurations()
          .withLabel("app.kubernetes.io/managed-by", "nimbus")
          .delete();
      // Shared only once complete: a failed setup is tried again by the next test.
      sharedClient = client;
    }
    return sharedClient;
  }

  /** The kubeconfig of the cluster the tests run against, for processes the tests start. */
  public static synchronized Path kubeconfig() {
    client();
    return kubeconfig;
  }

  /**
   * Installs KubeVirt again as the cluster's script does (its CRDs, webhooks and APIServices, and
   * virt-api and virt-controller if they stopped), for tests that removed it.
   */
  public static synchronized void reinstallKubeVirt() {
    Path script = projectDir().resolve("hack/cluster.sh");
    List<String> command =
        K3sCluster.selected()
            ? List.of(script.toString(), "attach", K3sCluster.start().toString())
            : List.of(script.toString(), "up");
    int exit = run(command, true);
    if (exit != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed with exit code " + exit);
    }
  }

  /** The project's root folder, where {@code hack/} and {@code crds/} are. */
  public static Path projectDir() {
    return Path.of(System.getProperty("nimbus.project.dir", ".")).toAbsolutePath();
  }

  private static Path startCluster() {
    Path script = projectDir().resolve("hack/cluster.sh");
    if (K3sCluster.selected()) {
      Path k3s = K3sCluster.start();
      int exit = run(List.of(script.toString(), "attach", k3s.toString()), true);
      if (exit != 0) {
        throw new IllegalStateException("hack/cluster.sh attach failed with exit code " + exit);
      }
    } else if (run(List.of(script.toString(), "status"), false) != 0) {
      System.out.println("[LocalCluster] starting the local control plane: hack/cluster.sh up");
      int exit = run(List.of(script.toString(), "up"), true);
      if (exit != 0) {
        throw new IllegalStateException("hack/cluster.sh up failed with exit code " + exit);
      }
    }
    return kubeconfigPath(script);
  }

  private static Path kubeconfigPath(Path script) {
    try {
      Process env = new ProcessBuilder(script.toString(), "env").redirectErrorStream(true).start();
      String line = new String(env.getInputStream().readAllBytes()).trim();
      env.waitFor(30, TimeUnit.SECONDS);
      return Path.of(line.substring(line.indexOf('=') + 1));
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + script + " env", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static int run(List<String> command, boolean showOutput) {
    try {
      var builder = new ProcessBuilder(command).directory(projectDir().toFile());
      if (showOutput) {
        builder.inheritIO();
      } else {
        builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
      }
      return builder.start().waitFor();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static void installCrds(KubernetesClient client) {
    try (var files = Files.list(projectDir().resolve("crds"))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
        for (HasMetadata crd : client.load(Files.newInputStream(file)).items()) {
          client.resource(crd).forceConflicts().serverSideApply();
          client
              .apiextensions()
              .v1()
              .customResourceDefinitions()
              .withName(crd.getMetadata().getName())
              .waitUntilCondition(
                  LocalCluster::established, CRD_ESTABLISHED.toSeconds(), TimeUnit.SECONDS);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read crds/", e);
    }
  }

  private static boolean established(CustomResourceDefinition crd) {
    // A CRD just created has no status conditions yet.
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Established") && c.getStatus().equals("True"));
  }
}
