package dev.nimbus.webhook;

import static dev.nimbus.testing.Await.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.NimbusChart;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.ServiceProxy;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.WebhookClientConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two replicas behind one webhook configuration renew their shared serving certificate while the
 * API server calls them without pause: every call is answered by the webhook itself, none fails on
 * TLS, because a renewed certificate is signed by the CA the caBundle already holds. A caBundle
 * removed by hand (as a chart upgrade with --force or an Argo CD Replace does) is back within one
 * check interval. The replicas of a local run, which write the configuration themselves, keep it
 * while any of them runs. An installed replica keeps the caBundle of both configurations the
 * release owns.
 */
@ExtendWith(LocalCluster.class)
class CertificateRotationIT {
  private static final String NAMESPACE = "nimbus-rotation";
  private static final String LOCAL = "nimbus-local-replicas";
  private static final String INSTALLED = "nimbus-installed-replica";
  // Renewed when a third is left: about every 30 s.
  private static final Map<String, String> SHORT_LIVED =
      Map.of(
          "nimbus.webhook.certificate-validity", "PT45S",
          "nimbus.leader-election.enabled", "false");
  // Replicas check at their own pace, as replicas started at different times do: one may serve
  // the old certificate for seconds after the other renewed it.
  private static final List<String> CHECK_INTERVALS = List.of("PT2S", "PT13S");
  private static final String ANSWER = "InstanceType \"rotation.absent\" does not exist";

  @Test
  void renewalsUnderAStreamOfCallsRefuseNoneAndAWipedCaBundleComesBack(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    client.secrets().inNamespace(NAMESPACE).withName("nimbus-webhook-tls").delete();
    int[] ports = {19643, 19644};
    List<OperatorProcess> replicas = new ArrayList<>();
    try (ServiceProxy proxy = new ServiceProxy(List.of(ports[0], ports[1]))) {
      for (int i = 0; i < ports.length; i++) {
        Map<String, String> properties = new HashMap<>(SHORT_LIVED);
        properties.put("nimbus.webhook.url", "https://127.0.0.1:" + proxy.port());
        properties.put("nimbus.webhook.certificate-check-interval", CHECK_INTERVALS.get(i));
        replicas.add(
            OperatorProcess.forTests("rotation-operator-" + i, NAMESPACE, ports[i], properties));
      }
      awaitFirstAnswer(client, namespace);

      // Every call is asserted: no retry hides a refused one. Between calls the proxy drops its
      // connections, so that the API server makes a TLS handshake with either replica at each.
      long end = System.nanoTime() + Duration.ofSeconds(70).toNanos();
      int calls = 0;
      List<String> failures = new ArrayList<>();
      while (System.nanoTime() < end) {
        proxy.closeConnections();
        Thread.sleep(50);
        String answer = call(client, namespace);
        calls++;
        if (!answer.contains(ANSWER)) {
          failures.add(answer);
        }
        Thread.sleep(100);
      }
      int renewals = 0;
      for (OperatorProcess replica : replicas) {
        renewals += count(replica.logText(), "Renewed webhook serving certificate");
      }
      assertThat(renewals).as("renewals during the stream").isGreaterThanOrEqualTo(2);
      assertThat(failures).as("calls not answered by the webhook, of %d", calls).isEmpty();

      var configurations = client.admissionRegistration().v1().validatingWebhookConfigurations();
      configurations
          .withName(NAMESPACE)
          .edit(
              c -> {
                c.getWebhooks().forEach(w -> w.getClientConfig().setCaBundle(null));
                return c;
              });
      long wiped = System.nanoTime();
      configurations
          .withName(NAMESPACE)
          .waitUntilCondition(
              c -> c.getWebhooks().get(0).getClientConfig().getCaBundle() != null,
              10,
              TimeUnit.SECONDS);
      assertThat(Duration.ofNanos(System.nanoTime() - wiped))
          .as("the caBundle is back within a check interval and a margin")
          .isLessThan(Duration.ofSeconds(5));
      awaitFirstAnswer(client, namespace);
    } finally {
      replicas.forEach(OperatorProcess::close);
    }
  }

  /**
   * A local run's replicas each point the one configuration at themselves as they start. One that
   * stops leaves a configuration that points at another as it is, and takes away one that points at
   * itself, which the replicas still running then write again at once; the last takes it away.
   */
  @Test
  void aLocalRunKeepsAdmissionWhileAnyReplicaRunsAndItsLastReplicaTakesItAway(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    var configuration =
        client.admissionRegistration().v1().validatingWebhookConfigurations().withName(LOCAL);
    var finalizers =
        client.admissionRegistration().v1().mutatingWebhookConfigurations().withName(LOCAL);
    int[] ports = {19645, 19646, 19647};
    List<OperatorProcess> replicas = new ArrayList<>();
    try {
      for (int i = 0; i < ports.length; i++) {
        replicas.add(OperatorProcess.forTests("local-operator-" + i, LOCAL, ports[i], Map.of()));
      }
      awaitFirstAnswer(client, namespace);
      assertThat(url(configuration.get())).as("the last to start").isEqualTo(url(ports[2]));
      assertThat(finalizers.get().getWebhooks().get(0).getClientConfig().getUrl())
          .as("the finalizers' webhook of the last to start")
          .isEqualTo("https://127.0.0.1:" + ports[2] + WebhookServer.FINALIZERS_PATH);
      String version = configuration.get().getMetadata().getResourceVersion();

      replicas.get(0).stop(false);
      assertThat(configuration.get().getMetadata().getResourceVersion())
          .as("a configuration pointed at another replica is left as it is")
          .isEqualTo(version);

      replicas.get(2).stop(false);
      awaitTrue(
          () ->
              Optional.ofNullable(configuration.get())
                  .map(written -> url(written).equals(url(ports[1])))
                  .orElse(false),
          10,
          () -> "not written again by the replica left: " + configuration.get());
      awaitTrue(
          () -> call(client, namespace).contains(ANSWER),
          10,
          () -> "not answered by the replica left: " + call(client, namespace));

      replicas.get(1).stop(false);
      assertThat(configuration.get()).as("taken away by the last replica").isNull();
      assertThat(finalizers.get())
          .as("the finalizers' configuration, taken away by the last replica")
          .isNull();
    } finally {
      replicas.forEach(OperatorProcess::close);
    }
  }

  /**
   * An installed replica (no {@code nimbus.webhook.url}: the release owns the configurations) keeps
   * the caBundle of both configurations the chart installs, the validating one and the finalizers'
   * mutating one, and brings back a caBundle wiped from either; stopping, it leaves both.
   */
  @Test
  void anInstalledReplicaKeepsTheCaBundleOfBothConfigurations(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    var admissionRegistration = client.admissionRegistration().v1();
    var validating = admissionRegistration.validatingWebhookConfigurations().withName(INSTALLED);
    var mutating = admissionRegistration.mutatingWebhookConfigurations().withName(INSTALLED);
    int port = 19648;
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(INSTALLED).endMetadata().build())
        .serverSideApply();
    client.secrets().inNamespace(INSTALLED).withName("nimbus-webhook-tls").delete();
    validating.delete();
    mutating.delete();
    String replicaUrl = "https://127.0.0.1:" + port;
    validating.create(
        rendered(
            client,
            ValidatingWebhookConfiguration.class,
            "templates/webhook.yaml",
            namespace,
            replicaUrl + WebhookServer.PATH));
    mutating.create(
        rendered(
            client,
            MutatingWebhookConfiguration.class,
            "templates/finalizer-webhook.yaml",
            namespace,
            replicaUrl + WebhookServer.FINALIZERS_PATH));
    OperatorProcess replica = null;
    try {
      replica =
          OperatorProcess.start(
              "installed-operator",
              Map.of(
                  "quarkus.http.port", "0",
                  "nimbus.namespace", INSTALLED,
                  "nimbus.webhook.host", "127.0.0.1",
                  "nimbus.webhook.port", Integer.toString(port),
                  "nimbus.webhook.extra-hosts", "127.0.0.1",
                  "nimbus.webhook.configuration-name", INSTALLED,
                  "nimbus.webhook.certificate-check-interval", "PT2S",
                  "nimbus.leader-election.enabled", "false"));
      awaitFirstAnswer(client, namespace);
      String caBundle = validatingCaBundle(validating.get());
      assertThat(mutatingCaBundle(mutating.get()))
          .as("the finalizers' configuration trusts the same CA")
          .isEqualTo(caBundle);
      assertFinalizersAnswered(client, namespace);

      validating.edit(
          c -> {
            c.getWebhooks().forEach(w -> w.getClientConfig().setCaBundle(null));
            return c;
          });
      mutating.edit(
          c -> {
            c.getWebhooks().forEach(w -> w.getClientConfig().setCaBundle(null));
            return c;
          });
      awaitTrue(
          () ->
              caBundle.equals(validatingCaBundle(validating.get()))
                  && caBundle.equals(mutatingCaBundle(mutating.get())),
          10,
          () -> "the wiped caBundles are not back: " + validating.get() + " " + mutating.get());
      awaitFirstAnswer(client, namespace);
      assertFinalizersAnswered(client, namespace);

      replica.stop(false);
      assertThat(validating.get()).as("the release's configuration, left").isNotNull();
      assertThat(mutating.get()).as("the release's finalizers' configuration, left").isNotNull();
    } finally {
      if (replica != null) {
        replica.close();
      }
      validating.delete();
      mutating.delete();
    }
  }

  /**
   * The release's configuration {@code template} renders, for {@code namespace} only, called at
   * {@code url} instead of the release's Service: what the chart installs, without a caBundle.
   */
  private static <T extends HasMetadata> T rendered(
      KubernetesClient client,
      Class<T> type,
      String template,
      TestNamespace namespace,
      String url) {
    T configuration =
        NimbusChart.render(
            client,
            type,
            INSTALLED,
            template,
            "--set",
            "watchNamespaces={" + namespace.name() + "}");
    var clientConfig = new WebhookClientConfigBuilder().withUrl(url).build();
    if (configuration instanceof ValidatingWebhookConfiguration validating) {
      validating.getWebhooks().forEach(webhook -> webhook.setClientConfig(clientConfig));
    } else if (configuration instanceof MutatingWebhookConfiguration mutating) {
      mutating.getWebhooks().forEach(webhook -> webhook.setClientConfig(clientConfig));
    }
    return configuration;
  }

  private static String validatingCaBundle(ValidatingWebhookConfiguration configuration) {
    return configuration.getWebhooks().get(0).getClientConfig().getCaBundle();
  }

  private static String mutatingCaBundle(MutatingWebhookConfiguration configuration) {
    return configuration.getWebhooks().get(0).getClientConfig().getCaBundle();
  }

  /**
   * The finalizers' webhook fails open, so a create says nothing of whether it was called: the API
   * server's count of its calls answered 200 does. A dry run calls it before the validating one.
   */
  private static void assertFinalizersAnswered(KubernetesClient client, TestNamespace namespace) {
    double before = finalizerCallsAnswered(client);
    call(client, namespace);
    assertThat(finalizerCallsAnswered(client))
        .as("calls of the finalizers' webhook the API server had answered with 200")
        .isEqualTo(before + 1);
  }

  private static double finalizerCallsAnswered(KubernetesClient client) {
    return client
        .raw("/metrics")
        .lines()
        .filter(line -> line.startsWith("apiserver_admission_webhook_request_total{"))
        .filter(line -> line.contains("name=\"" + Names.FINALIZER_WEBHOOK_NAME + "\""))
        .filter(line -> line.contains("code=\"200\""))
        .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
        .sum();
  }

  private static String url(int port) {
    return "https://127.0.0.1:" + port + WebhookServer.PATH;
  }

  private static String url(ValidatingWebhookConfiguration configuration) {
    return configuration.getWebhooks().get(0).getClientConfig().getUrl();
  }

  private static int count(String text, String line) {
    return text.split(Pattern.quote(line), -1).length - 1;
  }

  /** The refusal a dry run gets, or "stored" when it was not refused. */
  private static String call(KubernetesClient client, TestNamespace namespace) {
    try {
      client.resource(probe(namespace)).dryRun().create();
      return "stored";
    } catch (KubernetesClientException e) {
      return String.valueOf(e.getMessage());
    }
  }

  /** Waits until the webhook first answers (the configuration and certificate are in place). */
  private static void awaitFirstAnswer(KubernetesClient client, TestNamespace namespace)
      throws InterruptedException {
    String last = "";
    for (int i = 0; i < 150; i++) {
      last = call(client, namespace);
      if (last.contains(ANSWER)) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the webhook never answered; last: " + last);
  }

  /** A create the webhook refuses on its own terms: its instance type does not exist. */
  private static VirtualServer probe(TestNamespace namespace) {
    VirtualServer probe = new VirtualServer();
    probe.setMetadata(
        new ObjectMetaBuilder().withName("probe").withNamespace(namespace.name()).build());
    probe.setSpec(
        new VirtualServerSpec("x", "rotation.absent", 1, 1, null, null, null, null, true, false));
    return probe;
  }
}
