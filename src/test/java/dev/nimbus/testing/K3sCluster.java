package dev.nimbus.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.k3s.K3sContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The k3s target of {@link LocalCluster} ({@code mvn verify -Pk3s}): a Testcontainers k3s cluster,
 * made to look like the local one by {@code hack/cluster.sh attach} (KWOK with the same nodes, the
 * KubeVirt stand-in CRDs). Where no Docker engine runs, the tests are skipped, not failed.
 */
final class K3sCluster {
  static final String IMAGE = System.getProperty("nimbus.k3s.image", "rancher/k3s:v1.34.1-k3s1");
  private static K3sContainer container;

  private K3sCluster() {}

  static boolean selected() {
    return "k3s".equals(System.getProperty("nimbus.cluster", "local"));
  }

  static boolean dockerAvailable() {
    return DockerClientFactory.instance().isDockerAvailable();
  }

  /** Starts k3s once, attaches the simulated nodes, and returns the kubeconfig's path. */
  static synchronized Path start() {
    if (container == null) {
      container = new K3sContainer(DockerImageName.parse(IMAGE));
      container.start();
    }
    try {
      Path kubeconfig = Files.createTempFile("nimbus-k3s-", ".kubeconfig");
      Files.writeString(kubeconfig, container.getKubeConfigYaml());
      return kubeconfig;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
