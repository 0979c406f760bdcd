package dev.nimbus.chart;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.MemoryCgroup;
import dev.nimbus.testing.OperatorImage;
import dev.nimbus.testing.OperatorProcess;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The operator's image run as an installed release's Deployment runs it: the container the API
 * server stored (image, environment, memory limit, /tmp volume, security context) is checked
 * against the image built from this checkout, then the image's entrypoint runs with that
 * environment and the ServiceAccount's credentials where a pod finds them, so the operator
 * configures its client as in a cluster.
 */
final class OperatorImageRun {
  private static final String CREDENTIALS = "/var/run/secrets/kubernetes.io/serviceaccount";

  private final OperatorImage image;
  private final Container container;
  private final Deployment deployment;
  private final String namespace;
  private final KubernetesClient client;

  private OperatorImageRun(
      OperatorImage image,
      Deployment deployment,
      Container container,
      String namespace,
      KubernetesClient client) {
    this.image = image;
    this.deployment = deployment;
    this.container = container;
    this.namespace = namespace;
    this.client = client;
  }

  /** Builds the image and checks it is the one the release's Deployment names and runs. */
  static OperatorImageRun of(KubernetesClient client, String release, String namespace) {
    return of(
        client,
        client.apps().deployments().inNamespace(namespace).withName(release).require(),
        namespace);
  }

  /** Builds the image and checks it is the one {@code deployment} names and runs. */
  static OperatorImageRun of(KubernetesClient client, Deployment deployment, String namespace) {
    Container container = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
    OperatorImage image = OperatorImage.build();

    assertThat(container.getImage())
        .as("the chart's default image is the one this checkout builds")
        .isEqualTo("ghcr.io/nimbus-dev/nimbus-operator:" + image.tag());
    assertThat(image.reference).endsWith("/nimbus-dev/nimbus-operator:" + image.tag());
    assertThat(container.getCommand())
        .as("the Deployment runs the image's entrypoint")
        .isNullOrEmpty();
    assertThat(container.getArgs()).isNullOrEmpty();
    assertThat(image.entrypoint).startsWith("java").endsWith("-jar", "quarkus-run.jar");
    assertThat(container.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    assertThat(image.user)
        .as("a numeric user other than root, which runAsNonRoot can check")
        .matches("[1-9][0-9]*");
    return new OperatorImageRun(image, deployment, container, namespace, client);
  }

  /**
   * Runs the image with the container's environment ({@code fieldRef}s resolved as the kubelet
   * would) and {@code overrides}, and a ServiceAccount {@code token}.
   */
  OperatorProcess start(String name, String token, Map<String, String> overrides) {
    Map<String, String> env = new LinkedHashMap<>();
    for (EnvVar variable : container.getEnv()) {
      if (variable.getValueFrom() != null) {
        assertThat(variable.getValueFrom().getFieldRef().getFieldPath())
            .isEqualTo("metadata.namespace");
        env.put(variable.getName(), namespace);
      } else {
        env.put(variable.getName(), variable.getValue());
      }
    }
    URI server = URI.create(client.getConfiguration().getMasterUrl());
    env.put("KUBERNETES_SERVICE_HOST", server.getHost());
    env.put("KUBERNETES_SERVICE_PORT", Integer.toString(server.getPort()));
    env.put("HOSTNAME", name);
    // The local control plane's API server presents a client certificate to webhooks; the chart's
    // webhook.clientCA mounts its CA here and names it in this variable.
    env.put("NIMBUS_WEBHOOK_CLIENT_CA_FILE", "/etc/nimbus/webhook-client-ca/ca.crt");
    env.putAll(overrides);

    Path kubeconfigDir = LocalCluster.kubeconfig().getParent();
    return OperatorProcess.fromImage(
        name,
        image,
        new OperatorProcess.Container(
            env,
            memoryLimit(),
            tmpSize(),
            Map.of(
                CREDENTIALS,
                credentials(token),
                "/etc/nimbus/webhook-client-ca",
                webhookClientCa(kubeconfigDir))));
  }

  /**
   * The JVM took the chart's options and sized itself within the container's limit: the kernel
   * never had to kill it, and its peak stayed under the limit.
   */
  void assertFitsItsMemoryLimit(OperatorProcess operator) {
    assertThat(operator.logText())
        .as("the JVM read the chart's JAVA_TOOL_OPTIONS")
        .contains("Picked up JAVA_TOOL_OPTIONS: " + env("JAVA_TOOL_OPTIONS"));
    MemoryCgroup.Usage usage = operator.memoryUsage();
    System.out.printf(
        "The operator's container: peak %d MiB of its %d MiB limit%n",
        usage.peakBytes() >> 20, usage.limitBytes() >> 20);
    assertThat(usage.limitBytes()).isEqualTo(memoryLimit());
    assertThat(usage.oomKills()).as("OOM kills in the container's memory cgroup").isZero();
    assertThat(usage.peakBytes())
        .as("peak memory of the container (limit %d MiB)", memoryLimit() >> 20)
        .isLessThan(memoryLimit());
  }

  private String env(String name) {
    return container.getEnv().stream()
        .filter(variable -> variable.getName().equals(name))
        .findFirst()
        .orElseThrow()
        .getValue();
  }

  private long memoryLimit() {
    Quantity limit = container.getResources().getLimits().get("memory");
    return Quantity.getAmountInBytes(limit).longValueExact();
  }

  private long tmpSize() {
    String volume =
        container.getVolumeMounts().stream()
            .filter(mount -> mount.getMountPath().equals("/tmp"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("the Deployment mounts no volume on /tmp"))
            .getName();
    Volume tmp =
        deployment.getSpec().getTemplate().getSpec().getVolumes().stream()
            .filter(v -> v.getName().equals(volume))
            .findFirst()
            .orElseThrow();
    return Quantity.getAmountInBytes(tmp.getEmptyDir().getSizeLimit()).longValueExact();
  }

  /** The files the kubelet projects into a pod for its ServiceAccount. */
  private Path credentials(String token) {
    try {
      Path dir = Files.createTempDirectory("nimbus-serviceaccount");
      Files.writeString(dir.resolve("token"), token);
      Files.writeString(dir.resolve("namespace"), namespace);
      String caData = client.getConfiguration().getCaCertData();
      String ca =
          caData != null
              ? new String(Base64.getDecoder().decode(caData))
              : Files.readString(Path.of(client.getConfiguration().getCaCertFile()));
      Files.writeString(dir.resolve("ca.crt"), ca);
      openToAll(dir);
      for (String file : new String[] {"token", "namespace", "ca.crt"}) {
        dir.resolve(file).toFile().setReadable(true, false);
      }
      return dir;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Path webhookClientCa(Path kubeconfigDir) {
    try {
      Path dir = Files.createTempDirectory("nimbus-webhook-client-ca");
      Files.copy(kubeconfigDir.resolve("pki/webhook-client-ca.crt"), dir.resolve("ca.crt"));
      openToAll(dir);
      dir.resolve("ca.crt").toFile().setReadable(true, false);
      return dir;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The image's user reads what is mounted, as a pod's user reads its projected files. */
  private static void openToAll(Path dir) {
    dir.toFile().setReadable(true, false);
    dir.toFile().setExecutable(true, false);
  }
}
