package dev.nimbus.testing;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * etcd and the kube-apiserver of the oldest supported Kubernetes, beside the local control plane
 * ({@code hack/cluster.sh up --oldest-api-server} in a folder and on ports of their own), with
 * Nimbus' CRDs installed; stopped when the test JVM exits.
 */
public final class OldestApiServer {
  private static final int API_PORT = 17443;
  private static final int ETCD_PORT = 17379;
  private static KubernetesClient sharedClient;
  private static Path kubeconfig;

  private OldestApiServer() {}

  /** Its admin client, started and given the CRDs on first use. */
  public static synchronized KubernetesClient client() {
    if (sharedClient == null) {
      int exit = cluster(List.of("up", "--oldest-api-server"), true);
      if (exit != 0) {
        throw new IllegalStateException(
            "hack/cluster.sh up --oldest-api-server failed with exit code " + exit);
      }
      Runtime.getRuntime()
          .addShutdownHook(new Thread(() -> cluster(List.of("down"), false), "oldest-api-down"));
      kubeconfig = clusterDir().resolve("kubeconfig");
      try {
        Config config = Config.fromKubeconfig(Files.readString(kubeconfig));
        config.setRequestTimeout(30_000);
        KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
        LocalCluster.installCrds(client);
        sharedClient = client;
      } catch (IOException e) {
        throw new IllegalStateException("cannot read " + kubeconfig, e);
      }
    }
    return sharedClient;
  }

  /** Its admin kubeconfig, for kubectl and helm. */
  public static synchronized Path kubeconfig() {
    client();
    return kubeconfig;
  }

  /** The Kubernetes version it runs, as {@code hack/versions.sh} names it (v1.31.14). */
  public static String version() {
    return client().getKubernetesVersion().getGitVersion();
  }

  private static Path clusterDir() {
    String cache =
        System.getenv()
            .getOrDefault(
                "NIMBUS_CACHE",
                Path.of(System.getProperty("user.home"), ".cache/nimbus").toString());
    return Path.of(cache, "cluster-oldest-api-server");
  }

  private static int cluster(List<String> args, boolean showOutput) {
    List<String> command = new ArrayList<>();
    command.add(LocalCluster.projectDir().resolve("hack/cluster.sh").toString());
    command.addAll(args);
    var builder = new ProcessBuilder(command).directory(LocalCluster.projectDir().toFile());
    builder
        .environment()
        .putAll(
            Map.of(
                "NIMBUS_CLUSTER_DIR", clusterDir().toString(),
                "NIMBUS_API_PORT", String.valueOf(API_PORT),
                "NIMBUS_ETCD_PORT", String.valueOf(ETCD_PORT)));
    if (showOutput) {
      builder.inheritIO();
    } else {
      builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    }
    try {
      Process process = builder.start();
      if (!process.waitFor(10, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        return -1;
      }
      return process.exitValue();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
