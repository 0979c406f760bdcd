package dev.nimbus.testing;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The packaged operator ({@code target/quarkus-app}) run as its own process against the test
 * cluster, as a replica would run in a pod: tests start several to prove that replicas never share
 * state but through the API server. Its log goes to {@code target/<name>.log}.
 */
public final class OperatorProcess implements AutoCloseable {
  /** Where a started replica is probed until the API server calls its webhook. */
  public static final String PROBE_NAMESPACE = "nimbus-it-probe";

  // How often a replica is started before its start counts as failed.
  private static final int STARTS = 3;

  private final String name;
  private final Process process;
  private final Path log;
  // The memory cgroup a replica run from the image is limited by, removed when it stops.
  private Path cgroup;
  // The webhook configuration a test operator registered, removed when it stops.
  private String webhookConfiguration;

  private OperatorProcess(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /**
   * Starts the operator of one IT class: its ledgers, certificate and lease in {@code namespace}
   * (created here), its webhook on {@code 127.0.0.1:port}, registered under the configuration named
   * like the namespace; {@code more} adds or overrides properties. {@link #close} stops it and
   * removes that configuration, so that no later test meets a webhook that is gone.
   */
  public static OperatorProcess forTests(
      String name, String namespace, int port, Map<String, String> more) {
    LocalCluster.client()
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .serverSideApply();
    Map<String, String> properties = new HashMap<>();
    properties.put("quarkus.http.port", "0");
    properties.put("nimbus.namespace", namespace);
    properties.put("nimbus.webhook.host", "127.0.0.1");
    properties.put("nimbus.webhook.port", Integer.toString(port));
    properties.put("nimbus.webhook.url", "https://127.0.0.1:" + port);
    properties.put("nimbus.webhook.extra-hosts", "127.0.0.1");
    properties.put("nimbus.webhook.configuration-name", namespace);
    properties.putAll(more);
    OperatorProcess started = start(name, properties);
    started.webhookConfiguration = namespace;
    return started;
  }

  /** Starts a replica with the given {@code nimbus.*} and Quarkus properties and waits for it. */
  public static OperatorProcess start(String name, Map<String, String> properties) {
    return start(name, properties, LocalCluster.kubeconfig());
  }

  /** Starts the operator with the credentials of {@code kubeconfig} instead of the admin's. */
  public static OperatorProcess start(
      String name, Map<String, String> properties, Path kubeconfig) {
    Path root = LocalCluster.projectDir();
    Path jar = root.resolve("target/quarkus-app/quarkus-run.jar");
    if (!Files.exists(jar)) {
      throw new IllegalStateException(jar + " is missing: run `mvn package` (mvn verify does)");
    }
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // A benchmark may measure other heap and GC settings: -Dbench.operator-jvm=-Xmx160m,-Xss512k
    command.addAll(List.of(System.getProperty("bench.operator-jvm", "-Xmx256m").split(",")));
    properties.forEach((key, value) -> command.add("-D" + key + "=" + value));
    // The local control plane's API server presents a client certificate to webhooks: the
    // operator accepts no other caller, as a production install should.
    Path clientCa = LocalCluster.kubeconfig().getParent().resolve("pki/webhook-client-ca.crt");
    if (!properties.containsKey("nimbus.webhook.client-ca-file") && Files.exists(clientCa)) {
      command.add("-Dnimbus.webhook.client-ca-file=" + clientCa);
    }
    command.add("-jar");
    command.add(jar.toString());
    Path log = root.resolve("target/" + name + ".log");
    try {
      Files.deleteIfExists(log);
      for (int attempt = 1; ; attempt++) {
        ProcessBuilder builder =
            new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .directory(root.toFile());
        builder.environment().put("KUBECONFIG", kubeconfig.toString());
        int logStart = started(log);
        Process process = builder.start();
        OperatorProcess started = new OperatorProcess(name, process, log);
        try {
          started.awaitLogLine("Serving the admission webhook", Duration.ofSeconds(60));
          if (properties.containsKey("nimbus.webhook.url")) {
            awaitWebhookCalled();
          }
          return started;
        } catch (RuntimeException e) {
          boolean exitedOnInformerStart = started.exitedOnInformerStart(logStart);
          // Never returned, so never closed by its caller: it must not live on and hold its port.
          process.destroyForcibly();
          process.waitFor();
          if (attempt >= STARTS || !exitedOnInformerStart) {
            throw e;
          }
          // A replica whose informers cannot list at its start exits, and its pod's kubelet
          // starts it again (the operator framework's default): here the fixture is the kubelet.
          Files.writeString(
              log, "\n--- started again by the test fixture ---\n", StandardOpenOption.APPEND);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot start " + name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting " + name, e);
    }
  }

  /**
   * Whether the replica exited (of itself, before it was stopped) because an informer's first list
   * failed in this start (the API server closed the connection, say, a moment after it started): a
   * kubelet would start such a replica again.
   */
  private boolean exitedOnInformerStart(int logStart) {
    return !process.isAlive() && logText().indexOf("Informer startup error", logStart) >= 0;
  }

  /** How much of {@code log} earlier starts wrote: a start looks only at what follows. */
  private static int started(Path log) {
    try {
      return Files.exists(log) ? Files.readString(log).length() : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * How a kubelet would run the chart's container: its environment, its memory limit, the size of
   * the emptyDir on {@code /tmp}, and read-only host directories mounted at paths of the container
   * (such as the ServiceAccount's credentials at {@code /var/run/secrets/kubernetes.io/...}).
   */
  public record Container(
      Map<String, String> env, long memoryLimitBytes, long tmpBytes, Map<String, Path> mounts) {}

  /**
   * Runs the operator's image as a kubelet runs the chart's container, without a container runtime:
   * the image's entrypoint, as the image's user, in its root filesystem (chroot), which is
   * read-only but for an empty {@code /tmp}, in a mount namespace of its own (unshare) with {@code
   * /proc}, {@code /sys} and {@code /dev}, in a memory cgroup limited as the container is, so that
   * the JVM sizes itself from that limit. Needs root, as a runtime does.
   */
  public static OperatorProcess fromImage(String name, OperatorImage image, Container container) {
    if (!"root".equals(System.getProperty("user.name"))) {
      throw new IllegalStateException(
          "running the image needs root (chroot, mounts, a memory cgroup), as a container"
              + " runtime does; run the tests as root");
    }
    Path root = LocalCluster.projectDir();
    Path log = root.resolve("target/" + name + ".log");
    try {
      Path cgroup = MemoryCgroup.create(name, container.memoryLimitBytes());
      String rootfs = image.rootfs.toString();
      StringBuilder script = new StringBuilder("set -e\n");
      script.append("mount --bind ").append(q(rootfs)).append(' ').append(q(rootfs)).append('\n');
      script.append("mount -o remount,bind,ro ").append(q(rootfs)).append('\n');
      script.append("mount -t proc proc ").append(q(rootfs + "/proc")).append('\n');
      script.append("mount --rbind /sys ").append(q(rootfs + "/sys")).append('\n');
      script.append("mount --rbind /dev ").append(q(rootfs + "/dev")).append('\n');
      script
          .append("mount -t tmpfs -o size=")
          .append(container.tmpBytes())
          .append(",mode=1777 tmpfs ")
          .append(q(rootfs + "/tmp"))
          .append('\n');
      for (Map.Entry<String, Path> mount : container.mounts().entrySet()) {
        Path target = mountPoint(image.rootfs, mount.getKey());
        script.append("mount --bind ").append(q(mount.getValue().toString()));
        script.append(' ').append(q(target.toString())).append('\n');
        script.append("mount -o remount,bind,ro ").append(q(target.toString())).append('\n');
      }
      script.append("echo $$ > ").append(q(cgroup.resolve("cgroup.procs").toString())).append('\n');
      script.append("exec chroot --userspec=").append(image.user).append(':').append(image.user);
      script.append(' ').append(q(rootfs)).append(" /usr/bin/env -C ").append(q(image.workingDir));
      script.append(" \"$@\"\n");

      List<String> command = new ArrayList<>(List.of("unshare", "--mount", "sh", "-c"));
      command.add(script.toString());
      command.add(name);
      command.addAll(image.entrypoint);
      command.addAll(image.cmd);
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .directory(root.toFile());
      // The container's environment only: the image's, then the container's own.
      builder.environment().clear();
      builder.environment().putAll(image.env);
      builder.environment().putAll(container.env());
      OperatorProcess started = new OperatorProcess(name, builder.start(), log);
      started.cgroup = cgroup;
      started.awaitLogLine("Serving the admission webhook", Duration.ofSeconds(90));
      return started;
    } catch (IOException e) {
      throw new IllegalStateException("cannot run the image as " + name, e);
    }
  }

  /** What the memory cgroup of a replica run from the image recorded: peak bytes, OOM kills. */
  public MemoryCgroup.Usage memoryUsage() {
    return MemoryCgroup.usage(cgroup);
  }

  /**
   * The directory in {@code rootfs} that a container path names, made if missing: symbolic links on
   * the way resolve inside the root filesystem ({@code /var/run} is a link to {@code /run}), as a
   * runtime resolves them, never to the host's paths.
   */
  private static Path mountPoint(Path rootfs, String containerPath) throws IOException {
    Path at = rootfs;
    for (String part : containerPath.split("/")) {
      if (part.isEmpty()) {
        continue;
      }
      Path next = at.resolve(part);
      if (Files.isSymbolicLink(next)) {
        String link = Files.readSymbolicLink(next).toString();
        next =
            link.startsWith("/")
                ? mountPoint(rootfs, link)
                : mountPoint(rootfs, rootfs.relativize(at).resolve(link).normalize().toString());
      }
      at = next;
    }
    Files.createDirectories(at);
    return at;
  }

  private static String q(String value) {
    return "'" + value.replace("'", "'\\''") + "'";
  }

  /**
   * Waits until the API server calls the webhook that a local run registers: its informer of
   * webhook configurations lags the write, and a workload created meanwhile would be stored without
   * admission. A dry-run create naming an absent InstanceType is refused once it does.
   */
  private static void awaitWebhookCalled() {
    KubernetesClient client = LocalCluster.client();
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(PROBE_NAMESPACE)
                .endMetadata()
                .build())
        .serverSideApply();
    VirtualServer probe = new VirtualServer();
    probe.setMetadata(
        new ObjectMetaBuilder().withName("probe").withNamespace(PROBE_NAMESPACE).build());
    probe.setSpec(
        new VirtualServerSpec(
            "probe", "nimbus.absent", 1, 1, null, null, null, "probe", true, false));
    for (int attempt = 0; attempt < 150; attempt++) {
      try {
        client.resource(probe).dryRun().create();
      } catch (KubernetesClientException e) {
        if (e.getMessage().contains("nimbus.absent")) {
          return;
        }
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new IllegalStateException("the API server never called the Nimbus webhook");
  }

  /** Waits until the log holds {@code text}; fails with the log's end if the process died. */
  public void awaitLogLine(String text, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (logText().contains(text)) {
        return;
      }
      if (!process.isAlive()) {
        throw new IllegalStateException(name + " exited:\n" + tail());
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new IllegalStateException(
        name + " did not log \"" + text + "\" in " + timeout + ":\n" + tail());
  }

  public String logText() {
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      return "";
    }
  }

  /** Resident memory now and at its peak (VmRSS, VmHWM), in KiB, from /proc. */
  public long[] residentKiB() {
    try {
      long rss = 0;
      long peak = 0;
      for (String line :
          Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
        if (line.startsWith("VmRSS:")) {
          rss = Long.parseLong(line.replaceAll("\\D", ""));
        } else if (line.startsWith("VmHWM:")) {
          peak = Long.parseLong(line.replaceAll("\\D", ""));
        }
      }
      return new long[] {rss, peak};
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the memory of " + name, e);
    }
  }

  private String tail() {
    String text = logText();
    return text.substring(Math.max(0, text.length() - 4000));
  }

  /**
   * The sum of a Prometheus counter over all its labels, read from the replica's metrics endpoint
   * (its HTTP port is taken from the "Listening on" line of its log, waited for).
   */
  public double counter(String name) {
    return metric(name, "");
  }

  /** The value of one series of a gauge, chosen by a fragment of its labels, or NaN if absent. */
  public double gauge(String name, String labels) {
    return metric(name, labels);
  }

  /** The sum of the matching series, or NaN when none matches. */
  private double metric(String name, String labelFragment) {
    // A replica that is still starting has not opened its port yet.
    awaitLogLine("Listening on: http://", Duration.ofSeconds(60));
    var matcher = Pattern.compile("Listening on: http://[^:]+:(\\d+)").matcher(logText());
    if (!matcher.find()) {
      throw new IllegalStateException(this.name + " has not logged its HTTP port");
    }
    try {
      var response =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + matcher.group(1) + "/q/metrics"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      return response
          .body()
          .lines()
          .filter(line -> line.startsWith(name + "{") || line.startsWith(name + " "))
          .filter(line -> line.contains(labelFragment))
          .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
          .reduce(Double::sum)
          .orElse(Double.NaN);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the metrics of " + this.name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Appends the replica's thread stacks to its log ({@code jstack}): a test that times out waiting
   * for the operator calls it, so that a reconcile stuck in a call shows where.
   */
  public void dumpThreads() {
    try {
      Path jstack = Path.of(System.getProperty("java.home"), "bin", "jstack");
      Process dump =
          new ProcessBuilder(jstack.toString(), Long.toString(process.pid()))
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .start();
      dump.waitFor(30, TimeUnit.SECONDS);
    } catch (IOException e) {
      // A missing jstack leaves the log as it is; the failure that asked is reported anyway.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * How many objects of the class named {@code className} the replica's heap holds alive, from a
   * class histogram ({@code jcmd GC.class_histogram}, which collects garbage first).
   */
  public long liveInstances(String className) {
    try {
      Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
      Process histogram =
          new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()), "GC.class_histogram")
              .redirectErrorStream(true)
              .start();
      String output = new String(histogram.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!histogram.waitFor(60, TimeUnit.SECONDS) || histogram.exitValue() != 0) {
        throw new IllegalStateException(
            "jcmd GC.class_histogram failed for " + name + ": " + output);
      }
      // Lines read "  12:   345   6789  name (module)".
      return output
          .lines()
          .map(String::trim)
          .map(line -> line.split("\\s+"))
          .filter(columns -> columns.length >= 4 && columns[3].equals(className))
          .mapToLong(columns -> Long.parseLong(columns[1]))
          .sum();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run jcmd for " + name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Runs a full garbage collection in the replica ({@code jcmd GC.run}), to measure its heap. */
  public void collectGarbage() {
    try {
      Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
      Process gc =
          new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()), "GC.run")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!gc.waitFor(30, TimeUnit.SECONDS) || gc.exitValue() != 0) {
        throw new IllegalStateException("jcmd GC.run did not succeed for " + name);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run jcmd for " + name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Stops the process as a pod's deletion would (SIGTERM), or at once with {@code kill}. */
  public void stop(boolean kill) {
    if (kill) {
      process.destroyForcibly();
    } else {
      process.destroy();
    }
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The exit code of a process that has stopped. */
  public int exitCode() {
    return process.exitValue();
  }

  /** Whether the process still runs (a replica that lost its lease exits). */
  public boolean isRunning() {
    return process.isAlive();
  }

  @Override
  public void close() {
    try {
      closeProcess();
    } finally {
      if (cgroup != null) {
        MemoryCgroup.remove(cgroup);
      }
    }
  }

  private void closeProcess() {
    stop(false);
    if (webhookConfiguration != null) {
      // A replica takes its configuration away as it stops, unless it was killed or another
      // replica pointed the configuration at itself; without a replica the webhook would refuse
      // every workload (failurePolicy Fail), so the configuration goes in any case.
      LocalCluster.client()
          .admissionRegistration()
          .v1()
          .validatingWebhookConfigurations()
          .withName(webhookConfiguration)
          .delete();
    }
  }
}
