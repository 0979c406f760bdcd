package dev.nimbus.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.PoolRatios;
import dev.nimbus.api.v1alpha1.PoolReserved;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.NimbusChart;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Helm chart against the local control plane: it lints, every object it renders is accepted by
 * the API server, the plain manifests are what it renders, and an installed release runs the
 * operator with exactly the rights the chart grants, upgrades its CRDs, and leaves no webhook
 * behind when uninstalled.
 */
@ExtendWith(LocalCluster.class)
class ChartIT {
  static final String RELEASE = "nimbus-it";
  static final String NAMESPACE = "nimbus-chart-it";
  static final String POOL = "it-chart";

  @BeforeAll
  static void awaitNoLeftoverNamespace() {
    // An earlier run's namespace may still be terminating; a release cannot be stored there.
    LocalCluster.client()
        .namespaces()
        .withName(NAMESPACE)
        .waitUntilCondition(n -> n == null, 120, TimeUnit.SECONDS);
  }

  @AfterAll
  static void restore() throws Exception {
    KubernetesClient client = LocalCluster.client();
    helm("uninstall", RELEASE, "-n", NAMESPACE, "--ignore-not-found");
    // The upgrade test changed a CRD: the other tests need the project's own.
    kubectl("apply", "--server-side", "--force-conflicts", "-f", project("crds").toString());
    client.resources(CapacityPool.class).withName(POOL).delete();
    client.namespaces().withName(NAMESPACE).delete();
  }

  @Test
  void lintsAndTheApiServerAcceptsEveryRenderedObject() throws Exception {
    helm("lint", chart().toString());
    helm("lint", chart().toString(), "--set", "webhook.certManager.enabled=true");
    assertThat(
            catchThrowable(
                () ->
                    helm(
                        "template",
                        "nimbus",
                        chart().toString(),
                        "--set",
                        "aws.enabled=true",
                        "--set-json",
                        "aws.users=[\"alice\"]",
                        "--set",
                        "aws.ingress.enabled=true")))
        .as("an Ingress without the host clients call")
        .hasMessageContaining("aws.ingress.host is required");
    assertEveryRenderedObjectAccepted(LocalCluster.kubeconfig());
  }

  /**
   * The API server of {@code kubeconfig} accepts, in a server-side dry run, every object the chart
   * renders for that server's Kubernetes version, with its defaults and with every option on.
   */
  static void assertEveryRenderedObjectAccepted(Path kubeconfig) throws Exception {
    List<String> crds = run(List.of(project("hack/third-party-crds.sh").toString()));
    for (String crd : crds) {
      kubectlOn(kubeconfig, "apply", "--server-side", "-f", crd.strip());
    }
    Path namespace = Files.createTempFile("nimbus-namespace", ".yaml");
    Files.writeString(
        namespace, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + NAMESPACE + "\n");
    kubectlOn(kubeconfig, "apply", "--server-side", "-f", namespace.toString());
    String version =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(String.join("\n", kubectlOn(kubeconfig, "version", "-o", "json")))
            .at("/serverVersion/gitVersion")
            .asText();
    for (List<String> values :
        List.of(
            List.<String>of(),
            List.of("--set-json", "watchNamespaces=[\"default\"]"),
            List.of(
                "--set",
                "webhook.certManager.enabled=true",
                "--set",
                "metrics.serviceMonitor.enabled=true",
                "--set",
                "metrics.podMonitor.enabled=true",
                "--set",
                "metrics.dashboard.enabled=true",
                "--set",
                "webhook.networkPolicy.enabled=true",
                "--set",
                "aws.enabled=true",
                "--set-json",
                "aws.serviceAccounts=[\"deployer\"]",
                "--set-json",
                "aws.users=[\"alice\"]",
                "--set",
                "aws.ingress.enabled=true",
                "--set",
                "aws.ingress.host=ec2.nimbus.example",
                "--set",
                "aws.ingress.className=nginx",
                "--set-json",
                "aws.ingress.annotations={\"nginx.ingress.kubernetes.io/backend-protocol\":\"HTTPS\"}",
                "--set-json",
                "webhook.networkPolicy.from=[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"}}]",
                "--set-file",
                "webhook.clientCA="
                    + LocalCluster.kubeconfig().getParent().resolve("pki/webhook-client-ca.crt"),
                "--set-json",
                "capacityPools=[{\"name\":\"chart-pool\",\"spec\":{\"nodeSelector\":"
                    + "{\"matchLabels\":{\"nimbus.dev/node-group\":\"kvm\"}},"
                    + "\"ratios\":{\"cpu\":2},\"serves\":[\"VirtualServer\"]}}]"))) {
      // Its own release name: nothing it renders may meet the installed release's objects.
      List<String> template =
          new ArrayList<>(List.of("template", "nimbus-render", chart().toString()));
      template.addAll(List.of("-n", NAMESPACE, "--kube-version", version));
      template.addAll(values);
      Path rendered = Files.createTempFile("nimbus-chart", ".yaml");
      Files.writeString(rendered, String.join("\n", helm(template.toArray(String[]::new))));
      List<String> applied =
          kubectlOn(
              kubeconfig, "apply", "--dry-run=server", "-f", rendered.toString(), "-o", "name");
      assertThat(applied)
          .as("objects accepted by Kubernetes %s with %s", version, values)
          .hasSizeGreaterThan(15);
    }
  }

  /**
   * The API server gives up on the webhook after {@code webhook.timeoutSeconds}, and a reservation
   * written after that holds room for an object that is never stored: the ledger must answer within
   * the timeout the release sets, whichever it is (1 to 30 s).
   */
  @Test
  void theLedgerAnswersWithinTheWebhookTimeoutTheReleaseSets() {
    KubernetesClient client = LocalCluster.client();
    for (int seconds : new int[] {1, 5, 10, 30}) {
      Deployment deployment =
          NimbusChart.render(
              client,
              Deployment.class,
              "nimbus-timeouts",
              "templates/deployment.yaml",
              "--set",
              "webhook.timeoutSeconds=" + seconds);
      String decisionTimeout =
          deployment.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv().stream()
              .filter(env -> env.getName().equals("NIMBUS_LEDGER_DECISION_TIMEOUT"))
              .map(EnvVar::getValue)
              .findFirst()
              .orElse(null);
      assertThat(decisionTimeout)
          .as("the decision timeout of a release whose webhook times out after %d s", seconds)
          .isEqualTo(seconds * 800 + "ms");
    }
  }

  @Test
  void thePlainManifestsAreWhatTheChartRenders() throws Exception {
    Path fresh = Files.createTempDirectory("nimbus-manifests");
    run(List.of(project("hack/render-manifests.sh").toString(), fresh.toString()));
    try (Stream<Path> files = Files.list(project("deploy/manifests"))) {
      List<Path> committed = files.sorted().toList();
      assertThat(committed).hasSize(6);
      for (Path file : committed) {
        assertThat(Files.readString(fresh.resolve(file.getFileName())))
            .as("%s is stale: run hack/render-manifests.sh", file)
            .isEqualTo(Files.readString(file));
      }
    }
  }

  @Test
  void aReleaseRunsTheOperatorWithTheChartsRightsUpgradesItsCrdsAndUninstallsCleanly(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    adoptCrds();
    helm(
        "install",
        RELEASE,
        chart().toString(),
        "-n",
        NAMESPACE,
        "--create-namespace",
        "--wait=false",
        // The AWS API on, for ServiceAccounts named deployer: what the operator may impersonate.
        "--set",
        "aws.enabled=true",
        "--set-json",
        "aws.serviceAccounts=[\"deployer\"]");
    assertThat(kubectl("get", "itype", "t3.micro", "-o", "name"))
        .containsExactly("instancetype.compute.nimbus.dev/t3.micro");

    Path kubeconfig = serviceAccountKubeconfig(client);
    try (KubernetesClient operatorRights =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
            .build()) {
      assertThatThrownBy(() -> operatorRights.secrets().inNamespace("default").list())
          .as("no Secret of another namespace can be read")
          .isInstanceOf(KubernetesClientException.class)
          .satisfies(e -> assertThat(((KubernetesClientException) e).getCode()).isEqualTo(403));
      assertThatThrownBy(
              () -> operatorRights.secrets().inNamespace(namespace.name()).withName("any").get())
          .isInstanceOf(KubernetesClientException.class)
          .satisfies(e -> assertThat(((KubernetesClientException) e).getCode()).isEqualTo(403));
      assertThatThrownBy(() -> operatorRights.apps().deployments().inNamespace("default").list())
          .isInstanceOf(KubernetesClientException.class);

      // What RBAC lets the operator write, and the chart's policy refuses: what Nimbus never makes.
      assertRefusedByPolicy(
          operatorRights, taskShapedPod(namespace.name(), true), "a privileged task pod");
      assertRefusedByPolicy(
          operatorRights, taskShapedPod("kube-system", false), "a task pod in kube-system");
      assertRefusedByPolicy(
          operatorRights,
          new SecretBuilder()
              .withNewMetadata()
              .withName("not-nimbus")
              .withNamespace(namespace.name())
              .endMetadata()
              .addToStringData("token", "overwritten")
              .build(),
          "a Secret of a name Nimbus never writes");
      assertRefusedByPolicy(
          operatorRights,
          new GenericKubernetesResourceBuilder()
              .withApiVersion("kubevirt.io/v1")
              .withKind("VirtualMachine")
              .withNewMetadata()
              .withName("unowned-0")
              .withNamespace(namespace.name())
              .endMetadata()
              // A VM KubeVirt's own admission accepts, so that only the policy refuses it.
              .addToAdditionalProperties(
                  "spec",
                  Map.of(
                      "runStrategy",
                      "Halted",
                      "template",
                      Map.of(
                          "spec",
                          Map.of(
                              "domain",
                              Map.of(
                                  "devices",
                                  Map.of(),
                                  "resources",
                                  Map.of("requests", Map.of("memory", "1Gi")))))))
              .build(),
          "a VirtualMachine no VirtualServer owns");
      // The same pod, as Nimbus makes it, passes.
      operatorRights.resource(taskShapedPod(namespace.name(), false)).dryRun().create();

      // The AWS API acts as the identities the chart lists, and as no one else.
      String deployer = "system:serviceaccount:" + namespace.name() + ":deployer";
      assertThat(refusalAs(operatorRights, deployer, namespace))
          .contains("\"" + deployer + "\" cannot list");
      for (String other :
          List.of(
              "system:serviceaccount:kube-system:clusterrole-aggregation-controller",
              "system:admin",
              "nimbus-admin")) {
        assertThat(refusalAs(operatorRights, other, namespace)).contains("cannot impersonate");
      }
    }

    client.resource(pool()).serverSideApply();
    client.resource(Fixtures.instanceType("itchart.small", 1, "1Gi")).serverSideApply();
    // Outside the cluster the API server must reach the process below, not the chart's Service:
    // the admin points the chart's webhook at it; the operator then keeps its caBundle.
    pointTheWebhookAt(20043);
    // The operator runs from its image, as the chart's Deployment runs it (OperatorImageRun).
    OperatorImageRun image = OperatorImageRun.of(client, RELEASE, NAMESPACE);
    try (OperatorProcess operator =
        image.start(
            "it-chart-operator",
            serviceAccountToken(client),
            // Where it listens: the API server calls the webhook at this address, as patched above.
            listeningOn(20043))) {
      VirtualServer server = server(namespace, "chart-vm", false);
      ContainerTask task = task(namespace, "chart-task");
      // The chart's mutating webhook, trusted through the caBundle the operator keeps, gives each
      // its finalizer at the create.
      assertThat(createWhenAdmitted(client, server).getMetadata().getFinalizers())
          .containsExactly(Names.SERVER_FINALIZER);
      assertThat(createWhenAdmitted(client, task).getMetadata().getFinalizers())
          .containsExactly(Names.TASK_FINALIZER);
      awaitReady(client, server);
      awaitReady(client, task);

      // RBAC's refusal names the user; "forbidden: unable to create new content in namespace" is
      // the API server refusing writes in a namespace being deleted (another test's), not RBAC.
      assertThat(operator.logText())
          .as("the chart's RBAC lets the operator do all it does")
          .doesNotContainPattern("(?i)forbidden: User \"system:serviceaccount");
      image.assertFitsItsMemoryLimit(operator);
      client.resource(server).delete();
      client.resource(task).delete();
      client.resource(server).waitUntilCondition(s -> s == null, 60, TimeUnit.SECONDS);
      client.resource(task).waitUntilCondition(t -> t == null, 60, TimeUnit.SECONDS);
    }

    // An install whose RBAC and webhooks predate the finalizers' webhook, its image upgraded alone:
    // the operator cannot write that configuration, and still admits; the controller adds the
    // finalizer with a write of its own.
    kubectl("delete", "mutatingwebhookconfiguration", RELEASE);
    client
        .rbac()
        .clusterRoles()
        .withName(RELEASE)
        .edit(
            role -> {
              role.getRules()
                  .forEach(rule -> rule.getResources().remove("mutatingwebhookconfigurations"));
              return role;
            });
    try (OperatorProcess operator =
        image.start(
            "it-chart-operator-old-rbac", serviceAccountToken(client), listeningOn(20043))) {
      VirtualServer server = server(namespace, "chart-vm-old-rbac", false);
      assertThat(createWhenAdmitted(client, server).getMetadata().getFinalizers())
          .as("finalizers given at the create without the finalizers' webhook")
          .isNullOrEmpty();
      awaitReady(client, server);
      assertThat(client.resource(server).get().getMetadata().getFinalizers())
          .containsExactly(Names.SERVER_FINALIZER);
      assertThat(operator.logText())
          .contains("Could not keep the finalizers' MutatingWebhookConfiguration");
      client.resource(server).delete();
      client.resource(server).waitUntilCondition(s -> s == null, 60, TimeUnit.SECONDS);
    }

    // The upgrade brings back the chart's webhooks and RBAC, as the chart renders them.
    kubectl("delete", "validatingwebhookconfiguration", RELEASE);

    // An upgrade carries a changed CRD to the cluster.
    Path changed = Files.createTempDirectory("nimbus-chart-upgrade");
    copyChart(chart(), changed);
    Path crd = changed.resolve("files/crds/instancetypes.compute.nimbus.dev.yaml");
    Files.writeString(
        crd,
        Files.readString(crd)
            .replace(
                "description: The size of one instance of this type.",
                "description: The size of one instance of this type. Changed by the upgrade"
                    + " test."));
    helm("upgrade", RELEASE, changed.toString(), "-n", NAMESPACE, "--wait=false");
    assertThat(
            kubectl(
                "get",
                "crd",
                "instancetypes.compute.nimbus.dev",
                "-o",
                "jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.description}"))
        .containsExactly("The size of one instance of this type. Changed by the upgrade test.");

    helm("uninstall", RELEASE, "-n", NAMESPACE);
    assertThat(
            client
                .admissionRegistration()
                .v1()
                .validatingWebhookConfigurations()
                .withName(RELEASE)
                .get())
        .as("no webhook is left to refuse requests")
        .isNull();
    assertThat(
            client
                .admissionRegistration()
                .v1()
                .mutatingWebhookConfigurations()
                .withName(RELEASE)
                .get())
        .as("no webhook is left to change requests")
        .isNull();
    assertThat(
            client
                .apiextensions()
                .v1()
                .customResourceDefinitions()
                .withName("virtualservers.compute.nimbus.dev")
                .get())
        .as("crds.keep leaves the CRDs, and the workloads with them")
        .isNotNull();
  }

  /**
   * A release with watchNamespaces serves those namespaces alone: its ServiceAccount has no right
   * on workloads, pods or Secrets anywhere else, a workload created elsewhere is refused with where
   * workloads run, and the operator, run from its image with the release's rights, reconciles a
   * server and a task in a served namespace to Ready without asking for what its Roles do not
   * grant.
   */
  @Test
  void aNamespacedReleaseServesItsNamespacesAlone(KubernetesClient client, TestNamespace served)
      throws Exception {
    TestNamespace other = new TestNamespace(served.name() + "-other");
    client
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(other.name()).endMetadata().build())
        .create();
    try {
      adoptCrds();
      helm(
          "install",
          RELEASE,
          chart().toString(),
          "-n",
          NAMESPACE,
          "--create-namespace",
          "--wait=false",
          "--set-json",
          "watchNamespaces=[\"" + served.name() + "\"]");

      Path kubeconfig = serviceAccountKubeconfig(client);
      try (KubernetesClient operatorRights =
          new KubernetesClientBuilder()
              .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
              .build()) {
        assertThat(operatorRights.pods().inNamespace(served.name()).list().getItems()).isEmpty();
        assertForbidden(() -> operatorRights.pods().inAnyNamespace().list(), "pods everywhere");
        assertForbidden(
            () -> operatorRights.resources(VirtualServer.class).inAnyNamespace().list(),
            "VirtualServers everywhere");
        for (String elsewhere : List.of(other.name(), "default")) {
          assertForbidden(
              () -> operatorRights.pods().inNamespace(elsewhere).list(), "pods in " + elsewhere);
          assertForbidden(
              () -> operatorRights.resource(taskShapedPod(elsewhere, false)).dryRun().create(),
              "a task pod in " + elsewhere);
          assertForbidden(
              () -> operatorRights.resources(ContainerTask.class).inNamespace(elsewhere).list(),
              "ContainerTasks in " + elsewhere);
        }
      }

      String elsewhere =
          "Nimbus does not serve namespace "
              + other.name()
              + ": VirtualServers and ContainerTasks run only in "
              + served.name();
      // The API server loads a new admission policy from its informer, a moment after helm
      // stored it: dry runs wait for it, then a real create must be refused.
      awaitRefused(
          () -> client.resource(server(other, "elsewhere", false)).dryRun().create(), elsewhere);
      assertThatThrownBy(() -> client.resource(server(other, "elsewhere", false)).create())
          .as("a workload where no controller of the release would run it")
          .isInstanceOf(KubernetesClientException.class)
          .hasMessageContaining(elsewhere);

      client.resource(pool()).serverSideApply();
      client.resource(Fixtures.instanceType("itchart.small", 1, "1Gi")).serverSideApply();
      pointTheWebhookAt(20343);
      OperatorImageRun image = OperatorImageRun.of(client, RELEASE, NAMESPACE);
      try (OperatorProcess operator =
          image.start(
              "it-chart-namespaced-operator", serviceAccountToken(client), listeningOn(20343))) {
        VirtualServer server = server(served, "served-vm", false);
        ContainerTask task = task(served, "served-task");
        createWhenAdmitted(client, server);
        createWhenAdmitted(client, task);
        awaitReady(client, server);
        awaitReady(client, task);
        assertThat(operator.logText())
            .as("the workloads' controllers watch the served namespace alone")
            .contains(
                "Registered reconciler: 'virtualserver' for resource: '"
                    + VirtualServer.class
                    + "' for namespace(s): ["
                    + served.name()
                    + "]")
            .contains(
                "Registered reconciler: 'containertask' for resource: '"
                    + ContainerTask.class
                    + "' for namespace(s): ["
                    + served.name()
                    + "]");
        assertThat(operator.logText())
            .as("the release's Roles let the operator do all it does in its namespaces")
            .doesNotContainPattern("(?i)forbidden: User \"system:serviceaccount");
        client.resource(server).delete();
        client.resource(task).delete();
        client.resource(server).waitUntilCondition(s -> s == null, 60, TimeUnit.SECONDS);
        client.resource(task).waitUntilCondition(t -> t == null, 60, TimeUnit.SECONDS);
      }
    } finally {
      helm("uninstall", RELEASE, "-n", NAMESPACE, "--ignore-not-found");
      client.namespaces().withName(other.name()).delete();
    }
  }

  /**
   * Outside the cluster the API server must reach a local process, not the chart's Service: points
   * the release's webhook at {@code port}, as an admin would; the operator then keeps its caBundle.
   */
  private static void pointTheWebhookAt(int port) throws Exception {
    for (String kind : List.of("validating", "mutating")) {
      kubectl(
          "patch",
          kind + "webhookconfiguration",
          RELEASE,
          "--type=json",
          "-p",
          "[{\"op\":\"remove\",\"path\":\"/webhooks/0/clientConfig/service\"},"
              + "{\"op\":\"add\",\"path\":\"/webhooks/0/clientConfig/url\","
              + "\"value\":\"https://127.0.0.1:"
              + port
              + "/"
              + (kind.equals("validating") ? "validate" : "mutate")
              + "-workloads\"}]");
    }
  }

  /** Where the operator listens: the address {@link #pointTheWebhookAt} gave the API server. */
  private static Map<String, String> listeningOn(int port) {
    return Map.of(
        "NIMBUS_WEBHOOK_HOST", "127.0.0.1",
        "NIMBUS_WEBHOOK_PORT", Integer.toString(port),
        "NIMBUS_WEBHOOK_URL", "https://127.0.0.1:" + port,
        "NIMBUS_WEBHOOK_EXTRA_HOSTS", "127.0.0.1",
        "QUARKUS_HTTP_PORT", "0");
  }

  private static void assertForbidden(Runnable call, String what) {
    assertThatThrownBy(call::run)
        .as("the operator may not reach " + what)
        .isInstanceOf(KubernetesClientException.class)
        .satisfies(e -> assertThat(((KubernetesClientException) e).getCode()).isEqualTo(403));
  }

  /** CRDs installed before by other means are adopted by the release, as Helm documents it. */
  private static void adoptCrds() throws Exception {
    for (String crd :
        List.of(
            "virtualservers",
            "containertasks",
            "capacitypools",
            "instancetypes",
            "keypairs",
            "machineimages",
            "securitygroups",
            "taskdefinitionrevisions")) {
      String name = "crd/" + crd + ".compute.nimbus.dev";
      kubectl("label", "--overwrite", name, "app.kubernetes.io/managed-by=Helm");
      kubectl(
          "annotate",
          "--overwrite",
          name,
          "meta.helm.sh/release-name=" + RELEASE,
          "meta.helm.sh/release-namespace=" + NAMESPACE);
    }
  }

  /**
   * The chart's webhook as the API server has it while no replica answers (failurePolicy Fail):
   * writes that cannot change demand (labels, finalizers, updates of objects being deleted, the
   * delete of an unprotected server) still pass; a spec change and the delete of a protected server
   * are refused. The copy differs from the chart's only in where it points (a closed port) and in
   * an objectSelector that keeps it to this test's objects.
   */
  @Test
  void withEveryReplicaDownOnlyWritesThatCanChangeDemandAreRefused(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    // The operator admits the creates, writes its configuration for local runs and cleans up.
    try (OperatorProcess operator =
        OperatorProcess.forTests("it-chart-down-operator", "nimbus-chart-down", 20044, Map.of())) {
      client.resource(pool()).serverSideApply();
      client.resource(Fixtures.instanceType("itchart.small", 1, "1Gi")).serverSideApply();
      Map<String, String> selected = Map.of("nimbus-it/webhook", "down");
      VirtualServer open = server(namespace, "down-open", false);
      VirtualServer guarded = server(namespace, "down-guarded", true);
      ContainerTask task = task(namespace, "down-task");
      for (HasMetadata object : List.of(open, guarded, task)) {
        object.getMetadata().setLabels(selected);
        object.getMetadata().setFinalizers(List.of("nimbus-it/hold"));
        createWhenAdmitted(client, object);
      }

      var rendered =
          NimbusChart.render(
              client,
              ValidatingWebhookConfiguration.class,
              "nimbus-down",
              "templates/webhook.yaml",
              "--kube-version",
              "1.34.4");
      var live =
          client
              .admissionRegistration()
              .v1()
              .validatingWebhookConfigurations()
              .withLabel(Names.MANAGED_BY, "nimbus")
              .list()
              .getItems();
      assertThat(live)
          .as("the configuration the operator writes for local runs asks what the chart asks")
          .isNotEmpty()
          .allSatisfy(
              written ->
                  assertThat(written.getWebhooks().get(0).getMatchConditions())
                      .isEqualTo(rendered.getWebhooks().get(0).getMatchConditions()));
      ValidatingWebhookConfiguration down =
          new ValidatingWebhookConfigurationBuilder(rendered)
              .editMetadata()
              .withName("nimbus-it-down")
              .withAnnotations(null)
              .endMetadata()
              .editFirstWebhook()
              .withNewObjectSelector()
              .withMatchLabels(selected)
              .endObjectSelector()
              .withNewClientConfig()
              .withUrl("https://127.0.0.1:1/validate-workloads")
              .endClientConfig()
              .endWebhook()
              .build();
      var configurations = client.admissionRegistration().v1().validatingWebhookConfigurations();
      try {
        configurations.resource(down).serverSideApply();
        VirtualServer probe = server(namespace, "down-probe", false);
        probe.getMetadata().setLabels(selected);
        awaitRefused(() -> client.resource(probe).dryRun().create(), "failed calling webhook");

        for (HasMetadata object : List.of(open, guarded, task)) {
          client
              .resource(object)
              .edit(
                  o -> {
                    o.getMetadata().getLabels().put("team", "blue");
                    return o;
                  });
          assertThat(client.resource(object).get().getMetadata().getLabels())
              .as("a label of %s", object.getMetadata().getName())
              .containsEntry("team", "blue");
        }
        assertThatThrownBy(
                () ->
                    client
                        .resources(VirtualServer.class)
                        .resource(open)
                        .edit(
                            s -> {
                              s.setSpec(Fixtures.withCounts(s.getSpec(), 1, 2));
                              return s;
                            }))
            .as("a change of demand needs a replica")
            .isInstanceOf(KubernetesClientException.class)
            .hasMessageContaining("failed calling webhook");
        assertCalledOnTheDownWebhook(
            "the delete of a protected server", () -> client.resource(guarded).delete());
        assertThat(client.resource(guarded).get()).as("the protected server").isNotNull();

        client.resource(open).delete();
        client.resource(task).delete();
        for (HasMetadata object : List.of(open, task)) {
          // Being deleted: this test's finalizer comes off without a replica, and so does the
          // operator's when it has cleaned up.
          client
              .resource(object)
              .edit(
                  o -> {
                    o.getMetadata().getFinalizers().remove("nimbus-it/hold");
                    return o;
                  });
          client.resource(object).waitUntilCondition(o -> o == null, 60, TimeUnit.SECONDS);
        }
      } finally {
        configurations.withName("nimbus-it-down").delete();
      }
      client
          .resources(VirtualServer.class)
          .resource(guarded)
          .edit(
              s -> {
                s.setSpec(server(namespace, "unused", false).getSpec());
                s.getMetadata().setFinalizers(List.of());
                return s;
              });
    }
  }

  /**
   * Asserts that the operator's identity may not write {@code object} (a dry run): the chart's
   * policy refuses it, where RBAC alone would let it through. The policy may take moments to be in
   * force after the install.
   */
  private static void assertRefusedByPolicy(
      KubernetesClient operatorRights, HasMetadata object, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    String last = "written";
    while (System.nanoTime() < deadline) {
      try {
        operatorRights.resource(object).dryRun().create();
        last = "written";
      } catch (KubernetesClientException e) {
        last = e.getMessage();
        if (last.contains(RELEASE + "-operator-writes")) {
          return;
        }
      }
      Thread.sleep(300);
    }
    throw new AssertionError(what + " was not refused by the operator policy: " + last);
  }

  /** A pod as Nimbus makes one for a ContainerTask, or the same privileged. */
  private static Pod taskShapedPod(String namespace, boolean privileged) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("shaped-task-0")
        .withNamespace(namespace)
        .addToLabels("compute.nimbus.dev/containertask", "shaped")
        .addNewOwnerReference()
        .withApiVersion("compute.nimbus.dev/v1alpha1")
        .withKind("ContainerTask")
        .withName("shaped")
        .withUid("00000000-0000-0000-0000-000000000001")
        .endOwnerReference()
        .endMetadata()
        .withNewSpec()
        .withAutomountServiceAccountToken(false)
        .addNewContainer()
        .withName("main")
        .withImage("busybox:1.36")
        .withNewSecurityContext()
        .withPrivileged(privileged ? true : null)
        .endSecurityContext()
        .endContainer()
        .endSpec()
        .build();
  }

  private static VirtualServer server(TestNamespace namespace, String name, boolean guarded) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(meta(namespace, name));
    server.setSpec(
        new VirtualServerSpec(
            "quay.io/containerdisks/fedora:40",
            "itchart.small",
            1,
            1,
            null,
            null,
            "#cloud-config\n",
            POOL,
            true,
            guarded));
    return server;
  }

  private static ContainerTask task(TestNamespace namespace, String name) {
    ContainerTask task = new ContainerTask();
    task.setMetadata(meta(namespace, name));
    task.setSpec(
        new ContainerTaskSpec(
            POOL,
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(
                "chart",
                256,
                512,
                List.of(
                    new ContainerDefinition("main", "busybox:1.36", null, null, null, true, null))),
            1,
            "LATEST",
            null));
    return task;
  }

  /**
   * The API server's refusal of a pod list in {@code namespace} by {@code client} impersonating
   * {@code user}: that the impersonation is refused, or that {@code user} may not list pods.
   */
  private static String refusalAs(KubernetesClient client, String user, TestNamespace namespace) {
    var requestConfig =
        new RequestConfigBuilder(client.getConfiguration().getRequestConfig()).build();
    requestConfig.setImpersonateUsername(user);
    KubernetesClient as = client.newClient(requestConfig).adapt(KubernetesClient.class);
    try {
      as.pods().inNamespace(namespace.name()).list();
      return "allowed";
    } catch (KubernetesClientException e) {
      assertThat(e.getCode()).as(e.getMessage()).isEqualTo(403);
      return e.getStatus().getMessage();
    }
  }

  /** Waits until the API server refuses the write with a message holding {@code refusal}. */
  private static void awaitRefused(Runnable write, String refusal) throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    String last = "admitted";
    while (System.nanoTime() < deadline) {
      try {
        write.run();
      } catch (KubernetesClientException e) {
        last = String.valueOf(e.getMessage());
        if (last.contains(refusal)) {
          return;
        }
      }
      Thread.sleep(200);
    }
    throw new AssertionError(
        "the API server never refused with '" + refusal + "' in 30 s; last: " + last);
  }

  /**
   * The live operators' webhooks deny a protected delete too, and the API server calls all matching
   * webhooks at once and reports whichever refusal comes first: every attempt must be refused, and
   * the down webhook's failure must show in one of them, which it can only if the API server called
   * it.
   */
  private static void assertCalledOnTheDownWebhook(String write, Runnable attempt) {
    List<String> refusals = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Throwable refused = catchThrowable(attempt::run);
      assertThat(refused)
          .as("%s, attempt %d", write, i + 1)
          .isInstanceOf(KubernetesClientException.class);
      refusals.add(refused.getMessage());
      if (refused.getMessage().contains("failed calling webhook")) {
        return;
      }
    }
    throw new AssertionError(write + " never reached the webhook that is down: " + refusals);
  }

  private static <T extends HasMetadata> T createWhenAdmitted(KubernetesClient client, T object)
      throws InterruptedException {
    // The webhook may not know the just created InstanceType and pool yet.
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (true) {
      try {
        return client.resource(object).create();
      } catch (KubernetesClientException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(300);
      }
    }
  }

  private static void awaitReady(KubernetesClient client, HasMetadata object) {
    client
        .resource(object)
        .waitUntilCondition(
            o -> {
              if (o == null) {
                return false;
              }
              Map<String, Object> raw =
                  client.getKubernetesSerialization().convertValue(o, Map.class);
              return isReady(raw.get("status"));
            },
            120,
            TimeUnit.SECONDS);
  }

  /** Whether a workload's status, as JSON maps, holds Ready=True. */
  static boolean isReady(Object status) {
    return status instanceof Map<?, ?> map
        && map.get("conditions") instanceof List<?> conditions
        && conditions.stream()
            .anyMatch(
                c ->
                    c instanceof Map<?, ?> m
                        && "Ready".equals(m.get("type"))
                        && "True".equals(m.get("status")));
  }

  /** A kubeconfig with a token of the chart's ServiceAccount: the operator's rights, no more. */
  private static Path serviceAccountKubeconfig(KubernetesClient client) throws Exception {
    String token = serviceAccountToken(client);
    List<String> ca =
        kubectl(
            "config",
            "view",
            "--raw",
            "--minify",
            "--flatten",
            "-o",
            "jsonpath={.clusters[0].cluster.certificate-authority-data}");
    String server = client.getConfiguration().getMasterUrl();
    Path kubeconfig = Files.createTempFile("nimbus-operator-sa", ".kubeconfig");
    Files.writeString(
        kubeconfig,
        String.join(
            "\n",
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            "- name: local",
            "  cluster:",
            "    server: " + server,
            "    certificate-authority-data: " + String.join("", ca).strip(),
            "users:",
            "- name: operator",
            "  user:",
            "    token: " + token,
            "contexts:",
            "- name: operator",
            "  context: {cluster: local, user: operator}",
            "current-context: operator",
            ""));
    return kubeconfig;
  }

  /** A token of the chart's ServiceAccount, as the kubelet projects it into the operator's pod. */
  private static String serviceAccountToken(KubernetesClient client) {
    return client
        .serviceAccounts()
        .inNamespace(NAMESPACE)
        .withName(RELEASE)
        .tokenRequest(
            new TokenRequestBuilder().withNewSpec().withExpirationSeconds(3600L).endSpec().build())
        .getStatus()
        .getToken();
  }

  private static CapacityPool pool() {
    CapacityPool pool = new CapacityPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(POOL).build());
    pool.setSpec(
        new CapacityPoolSpec(
            new LabelSelectorBuilder().addToMatchLabels("type", "kwok").build(),
            new PoolRatios(4.0, 1.0, 1.0),
            new PoolReserved("0", "0", "0"),
            List.of(
                CapacityPoolSpec.WorkloadKind.VirtualServer,
                CapacityPoolSpec.WorkloadKind.ContainerTask),
            null,
            null));
    return pool;
  }

  private static ObjectMeta meta(TestNamespace namespace, String name) {
    return new ObjectMetaBuilder().withName(name).withNamespace(namespace.name()).build();
  }

  /** The chart with its CRDs copied rather than linked, as a packaged chart holds them. */
  private static void copyChart(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from, FileVisitOption.FOLLOW_LINKS)) {
      for (Path source : paths.sorted(Comparator.naturalOrder()).toList()) {
        Path target = to.resolve(from.relativize(source).toString());
        if (Files.isDirectory(source)) {
          Files.createDirectories(target);
        } else {
          Files.copy(source, target);
        }
      }
    }
  }

  static Path chart() {
    return NimbusChart.directory();
  }

  static Path project(String path) {
    return LocalCluster.projectDir().resolve(path);
  }

  static List<String> helm(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(NimbusChart.helm().toString());
    command.addAll(List.of(args));
    command.add("--kubeconfig=" + LocalCluster.kubeconfig());
    return run(command);
  }

  static List<String> kubectl(String... args) throws Exception {
    return kubectlOn(LocalCluster.kubeconfig(), args);
  }

  static List<String> kubectlOn(Path kubeconfig, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add("kubectl");
    command.add("--kubeconfig=" + kubeconfig);
    command.addAll(List.of(args));
    return run(command);
  }

  /** Runs a command; fails with its output unless it exits 0; returns its standard output. */
  static List<String> run(List<String> command) throws Exception {
    Path errors = Files.createTempFile("nimbus-cmd", ".err");
    Process process =
        new ProcessBuilder(command)
            .redirectError(errors.toFile())
            .directory(LocalCluster.projectDir().toFile())
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int code = process.waitFor();
    assertThat(code)
        .as("%s failed:%n%s%n%s", String.join(" ", command), output, Files.readString(errors))
        .isZero();
    return output.lines().toList();
  }
}
