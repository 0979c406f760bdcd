package dev.nimbus.webhook;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MatchCondition;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.WebhookClientConfig;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.interceptor.Interceptor;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * Serves the admission webhook over HTTPS on its own port, with the certificate that {@link
 * CertificateManager} keeps, and keeps the webhook configurations' caBundle pointing at that
 * certificate's CA. Every replica serves two endpoints, each of which only decodes, asks and
 * encodes: {@link #PATH}, the validating webhook, asks {@link WorkloadAdmission}; {@link
 * #FINALIZERS_PATH}, the mutating webhook that admission does not depend on, asks {@link
 * WorkloadFinalizers}.
 */
@ApplicationScoped
public class WebhookServer {
  private static final Logger LOG = Logger.getLogger(WebhookServer.class);
  static final String PATH = "/validate-workloads";
  static final String FINALIZERS_PATH = "/mutate-workloads";

  /**
   * When the API server calls the webhook at all: for writes that can change demand or delete a
   * protected server. Labels, finalizers and updates of objects being deleted then pass while no
   * replica answers (failurePolicy Fail). The chart's webhook.yaml holds the same.
   */
  static final List<MatchCondition> MATCH_CONDITIONS =
      List.of(
          new MatchCondition(
              "request.operation != 'UPDATE' || (request.resource.resource == 'virtualservers'"
                  + " && !has(object.metadata.deletionTimestamp) && object.spec != oldObject.spec)",
              "may-change-demand"),
          new MatchCondition(
              "request.operation != 'DELETE' || (has(oldObject.spec.terminationProtection)"
                  + " && oldObject.spec.terminationProtection == true)",
              "deletes-a-protected-server"));

  static final int IDLE_TIMEOUT_SECONDS = 60;

  private static final String ARRIVED = "nimbus.arrived";

  private final Vertx vertx;
  private final KubernetesClient client;
  private final NimbusConfig config;
  private final CertificateManager certificates;
  private final WorkloadAdmission admission;
  private final Inventory inventory;
  private final WatchedNamespaces watched;
  private final KubernetesSerialization json;
  private HttpServer server;
  private CertificateManager.Pems serving;
  private SharedIndexInformer<ValidatingWebhookConfiguration> configurationWatch;
  // Held while a local replica writes or deletes its configuration: once it stops, nothing that
  // was under way writes the configuration again, pointed at a replica that no longer answers.
  private final Object configurationLock = new Object();
  private boolean stopping;

  public WebhookServer(
      Vertx vertx,
      KubernetesClient client,
      NimbusConfig config,
      CertificateManager certificates,
      WorkloadAdmission admission,
      Inventory inventory,
      WatchedNamespaces watched) {
    this.watched = watched;
    this.vertx = vertx;
    this.client = client;
    this.config = config;
    this.certificates = certificates;
    this.admission = admission;
    this.inventory = inventory;
    this.json = client.getKubernetesSerialization();
  }

  void start(@Observes StartupEvent event) throws Exception {
    // The caches must be full before the first decision, or a pool would look empty.
    inventory.start();
    serving = certificates.ensure();
    Router router = Router.router(vertx);
    serve(router, PATH, admission::review);
    serve(router, FINALIZERS_PATH, (request, deadline) -> WorkloadFinalizers.review(request));
    server =
        vertx
            .createHttpServer(
                new HttpServerOptions()
                    // The API server keeps connections open between calls; one it left for longer
                    // than this is closed, so that idle or abandoned clients hold no resources.
                    .setIdleTimeout(IDLE_TIMEOUT_SECONDS)
                    .setIdleTimeoutUnit(TimeUnit.SECONDS)
                    .setSsl(true)
                    .setKeyCertOptions(serving.keyCertOptions())
                    .setClientAuth(
                        config.webhook().clientCaFile().isPresent()
                            ? ClientAuth.REQUIRED
                            : ClientAuth.NONE)
                    .setTrustOptions(clientTrust())
                    .setHost(config.webhook().host())
                    .setPort(config.webhook().port()))
            .requestHandler(router)
            .listen()
            .toCompletionStage()
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
    // Said once the webhook configuration points here: from then on the API server calls it.
    publishCaBundle(serving);
    if (writesLocalConfiguration()) {
      watchConfiguration();
    }
    LOG.infof(
        "Serving the admission webhook on https://%s:%d%s (%s)",
        config.webhook().host(),
        server.actualPort(),
        PATH,
        config
            .webhook()
            .clientCaFile()
            .map(file -> "callers must present a client certificate of " + file)
            .orElse("any TLS client may call"));
    vertx.setPeriodic(
        config.webhook().certificateCheckInterval().toMillis(),
        id ->
            vertx.executeBlocking(
                () -> {
                  refreshCertificate();
                  return null;
                }));
  }

  /** What answers a review by its deadline. */
  @FunctionalInterface
  private interface Answer {
    AdmissionResponse answer(AdmissionReviews.Request request, ReviewDeadline deadline);
  }

  /** Answers the reviews posted to {@code path}; a malformed body gets a 400 that says why. */
  private void serve(Router router, String path, Answer answer) {
    // When the review reached this replica, on the event loop: the time it then waits for its body
    // and for a worker thread counts against the API server's timeout too.
    router
        .post(path)
        .handler(
            context -> {
              context.put(ARRIVED, System.nanoTime());
              context.next();
            });
    // Bodies above the limit are refused with 413 before they are read whole.
    router.post(path).handler(BodyHandler.create().setBodyLimit(AdmissionReviews.MAX_BODY_BYTES));
    router
        .post(path)
        .blockingHandler(
            context -> {
              var parsed = AdmissionReviews.parse(context.body().asString());
              if (parsed instanceof AdmissionReviews.Malformed malformed) {
                context
                    .response()
                    .setStatusCode(400)
                    .putHeader("Content-Type", "text/plain; charset=utf-8")
                    .end(malformed.message());
                return;
              }
              var request = ((AdmissionReviews.Review) parsed).request();
              var deadline =
                  ReviewDeadline.of(
                      context.<Long>get(ARRIVED),
                      Optional.ofNullable(context.request().getParam("timeout")),
                      config.ledger().decisionTimeout());
              context
                  .response()
                  .putHeader("Content-Type", "application/json")
                  .end(
                      Buffer.buffer(
                          AdmissionReviews.answer(json, answer.answer(request, deadline))));
            },
            false);
  }

  /**
   * A local run of several replicas writes one configuration, pointed at the last replica that
   * wrote it, and a replica that stops takes it away (see {@link #stop}): the others write it again
   * as soon as they see it gone, so that admission outlives any one replica but the last.
   */
  private void watchConfiguration() {
    if (!mayRead("list") || !mayRead("watch")) {
      // A local run with an install's rights, which name the configuration for get and patch.
      LOG.infof(
          "Not allowed to watch ValidatingWebhookConfiguration %s: if another replica deletes it,"
              + " it is written again within nimbus.webhook.certificate-check-interval",
          config.webhook().configurationName());
      return;
    }
    try {
      configurationWatch = informConfiguration();
    } catch (RuntimeException e) {
      // Allowed, yet the watch did not start (the API server refused or did not answer in time):
      // a deleted configuration is then written again at the next check only.
      LOG.warnf(
          "Cannot watch ValidatingWebhookConfiguration %s (%s): if another replica deletes it, it"
              + " is written again within nimbus.webhook.certificate-check-interval",
          config.webhook().configurationName(), e.getMessage());
    }
  }

  /** Whether this replica's credentials may {@code verb} its webhook configuration. */
  private boolean mayRead(String verb) {
    var review =
        new SelfSubjectAccessReviewBuilder()
            .withNewSpec()
            .withNewResourceAttributes()
            .withGroup("admissionregistration.k8s.io")
            .withResource("validatingwebhookconfigurations")
            .withName(config.webhook().configurationName())
            .withVerb(verb)
            .endResourceAttributes()
            .endSpec()
            .build();
    var answer = client.authorization().v1().selfSubjectAccessReview().create(review);
    return answer.getStatus() != null && Boolean.TRUE.equals(answer.getStatus().getAllowed());
  }

  private SharedIndexInformer<ValidatingWebhookConfiguration> informConfiguration() {
    return client
        .admissionRegistration()
        .v1()
        .validatingWebhookConfigurations()
        .withName(config.webhook().configurationName())
        .inform(
            new ResourceEventHandler<>() {
              @Override
              public void onAdd(ValidatingWebhookConfiguration added) {}

              @Override
              public void onUpdate(
                  ValidatingWebhookConfiguration before, ValidatingWebhookConfiguration after) {}

              @Override
              public void onDelete(ValidatingWebhookConfiguration gone, boolean unknown) {
                vertx.executeBlocking(
                    () -> {
                      if (!applyLocalConfiguration(caBundle(serving))) {
                        return null;
                      }
                      LOG.infof(
                          "ValidatingWebhookConfiguration %s was deleted (a replica stopped):"
                              + " written again, pointed at %s",
                          config.webhook().configurationName(), config.webhook().url().get());
                      return null;
                    });
              }
            });
  }

  /**
   * Before QOSDK stops the operator, which closes the client: the configuration of a local run is
   * taken away while the client still works, and before this replica stops answering.
   */
  void stop(@Observes @Priority(Interceptor.Priority.PLATFORM_BEFORE) ShutdownEvent event) {
    if (configurationWatch != null) {
      configurationWatch.close(); // this replica's own deletion below is not to be undone
    }
    if (config.webhook().url().isPresent()) {
      takeLocalConfigurationAway();
    }
    if (server != null) {
      server.close();
    }
  }

  /**
   * This replica wrote the configuration itself (a local run): it takes it away as it stops, or the
   * API server would refuse every VirtualServer and ContainerTask (failurePolicy Fail). Only while
   * it points here, and as read: another replica that pointed it at itself since serves on, and one
   * that sees it deleted writes it again.
   */
  private void takeLocalConfigurationAway() {
    var admissionRegistration = client.admissionRegistration().v1();
    var configuration =
        admissionRegistration
            .validatingWebhookConfigurations()
            .withName(config.webhook().configurationName());
    var finalizers =
        admissionRegistration
            .mutatingWebhookConfigurations()
            .withName(config.webhook().configurationName());
    try {
      synchronized (configurationLock) {
        stopping = true;
        ValidatingWebhookConfiguration current = configuration.get();
        if (current != null
            && pointsHere(current.getWebhooks(), ValidatingWebhook::getClientConfig, PATH)) {
          configuration.lockResourceVersion(current.getMetadata().getResourceVersion()).delete();
        }
        // Left behind, it would only cost every create a refused connection (failurePolicy
        // Ignore).
        finalizersMayFail(
            () -> {
              MutatingWebhookConfiguration currentFinalizers = finalizers.get();
              if (currentFinalizers != null
                  && pointsHere(
                      currentFinalizers.getWebhooks(),
                      MutatingWebhook::getClientConfig,
                      FINALIZERS_PATH)) {
                finalizers
                    .lockResourceVersion(currentFinalizers.getMetadata().getResourceVersion())
                    .delete();
              }
            });
      }
    } catch (RuntimeException e) {
      // A 409 (another replica wrote it since) leaves it to that replica.
      LOG.warnf(
          "Could not delete ValidatingWebhookConfiguration %s on shutdown (%s): unless another"
              + " replica serves it, delete it, or every VirtualServer and ContainerTask change is"
              + " refused",
          config.webhook().configurationName(), e.getMessage());
    }
  }

  /** Whether one of {@code webhooks} calls this replica at {@code path}. */
  private <W> boolean pointsHere(
      List<W> webhooks, Function<W, WebhookClientConfig> clientConfig, String path) {
    String url = localWebhookUrl(path);
    return webhooks.stream().map(clientConfig).anyMatch(c -> c != null && url.equals(c.getUrl()));
  }

  /**
   * A local run ({@code nimbus.webhook.url}) writes its whole configuration itself, unless
   * cert-manager keeps its caBundle.
   */
  private boolean writesLocalConfiguration() {
    return config.webhook().url().isPresent() && !caBundleKeptByCertManager();
  }

  private boolean caBundleKeptByCertManager() {
    return config.webhook().certificateIssuer()
        == NimbusConfig.Webhook.CertificateIssuer.CERT_MANAGER;
  }

  /** Where a local run's configuration sends the API server: this replica's webhook. */
  private String localWebhookUrl(String path) {
    return config.webhook().url().orElseThrow() + path;
  }

  /**
   * Renews the certificate when due, picks up one that another replica renewed, and checks the
   * caBundle on every tick: a bundle that an upgrade or a sync wiped is restored within one check
   * interval. The bundle is published before a renewed certificate is served, so that the API
   * server trusts a new CA before any replica presents a certificate it signed.
   */
  private void refreshCertificate() {
    CertificateManager.Pems latest = certificates.ensure();
    publishCaBundle(latest);
    if (!latest.equals(serving)) {
      // The client CA goes with the new certificate: the update replaces every SSL option.
      server.updateSSLOptions(
          new io.vertx.core.net.SSLOptions()
              .setKeyCertOptions(latest.keyCertOptions())
              .setTrustOptions(clientTrust()));
      serving = latest;
      LOG.infof("Now serving the renewed webhook certificate, valid until %s", latest.notAfter());
    }
  }

  /** The CAs whose client certificates may call, when callers must present one. */
  private PemTrustOptions clientTrust() {
    return config
        .webhook()
        .clientCaFile()
        .map(file -> new PemTrustOptions().addCertPath(file))
        .orElse(null);
  }

  /** The serving certificate alone: the API server holds its CA in the caBundle. */

  /**
   * With {@code nimbus.webhook.url} (local runs) the whole configuration is written; otherwise only
   * the caBundle of the installed one is brought up to date, unless cert-manager keeps it.
   */
  private void publishCaBundle(CertificateManager.Pems pems) {
    if (caBundleKeptByCertManager()) {
      return; // cert-manager's CA injector keeps the caBundle
    }
    String caBundle = caBundle(pems);
    if (config.webhook().url().isPresent()) {
      applyLocalConfiguration(caBundle);
      return;
    }
    var admissionRegistration = client.admissionRegistration().v1();
    String name = config.webhook().configurationName();
    publishCaBundle(
        admissionRegistration.validatingWebhookConfigurations().withName(name),
        ValidatingWebhookConfiguration::getWebhooks,
        ValidatingWebhook::getClientConfig,
        caBundle,
        "ValidatingWebhookConfiguration",
        "the API server does not call this webhook yet");
    finalizersMayFail(
        () ->
            publishCaBundle(
                admissionRegistration.mutatingWebhookConfigurations().withName(name),
                MutatingWebhookConfiguration::getWebhooks,
                MutatingWebhook::getClientConfig,
                caBundle,
                "MutatingWebhookConfiguration",
                "the controllers add finalizers themselves"));
  }

  /**
   * Writes the finalizers' webhook configuration, which admission does not depend on: a failure
   * (such as the rights of an install from before it existed) is logged, and the controllers add
   * the finalizers themselves meanwhile.
   */
  private static void finalizersMayFail(Runnable write) {
    try {
      write.run();
    } catch (KubernetesClientException e) {
      LOG.warnf(
          "Could not keep the finalizers' MutatingWebhookConfiguration (%s): the controllers add"
              + " finalizers themselves, one more write per create; the chart's RBAC allows it",
          e.getMessage());
    }
  }

  /** Sets {@code caBundle} in every webhook of an installed configuration that lacks it. */
  private <C extends HasMetadata, W> void publishCaBundle(
      Resource<C> configuration,
      Function<C, List<W>> webhooks,
      Function<W, WebhookClientConfig> clientConfig,
      String caBundle,
      String kind,
      String whileMissing) {
    C installed = configuration.get();
    if (installed == null) {
      LOG.warnf("%s %s not found: %s", kind, config.webhook().configurationName(), whileMissing);
      return;
    }
    if (webhooks.apply(installed).stream()
        .allMatch(w -> caBundle.equals(clientConfig.apply(w).getCaBundle()))) {
      return;
    }
    configuration.edit(
        c -> {
          webhooks.apply(c).forEach(w -> clientConfig.apply(w).setCaBundle(caBundle));
          return c;
        });
    LOG.infof("Updated the caBundle of %s %s", kind, config.webhook().configurationName());
  }

  private static String caBundle(CertificateManager.Pems pems) {
    return Base64.getEncoder().encodeToString(pems.ca().getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * Writes a local run's whole configuration, pointed at this replica; false, writing nothing, once
   * this replica stops. Applied at every check: an apply that changes nothing writes nothing.
   */
  private boolean applyLocalConfiguration(String caBundle) {
    synchronized (configurationLock) {
      if (stopping) {
        return false;
      }
      var admissionRegistration = client.admissionRegistration().v1();
      admissionRegistration
          .validatingWebhookConfigurations()
          .resource(configuration(caBundle))
          .forceConflicts()
          .serverSideApply();
      finalizersMayFail(
          () ->
              admissionRegistration
                  .mutatingWebhookConfigurations()
                  .resource(finalizersConfiguration(caBundle))
                  .forceConflicts()
                  .serverSideApply());
      return true;
    }
  }

  /**
   * The namespaces served, when listed: the API server then calls the webhook for no other (as the
   * chart's configuration selects them); null, every namespace.
   */
  private LabelSelector namespaceSelector() {
    return watched
        .listed()
        .map(
            names ->
                new LabelSelectorBuilder()
                    .addNewMatchExpression()
                    .withKey(Names.NAMESPACE_NAME_LABEL)
                    .withOperator("In")
                    .withValues(names.stream().sorted().toList())
                    .endMatchExpression()
                    .build())
        .orElse(null);
  }

  /**
   * The webhook that gives created workloads their finalizer, as the chart's
   * finalizer-webhook.yaml: a create it does not answer is stored without the finalizer
   * (failurePolicy Ignore), which the controller then adds.
   */
  private MutatingWebhookConfiguration finalizersConfiguration(String caBundle) {
    return new MutatingWebhookConfigurationBuilder()
        .withNewMetadata()
        .withName(config.webhook().configurationName())
        .addToLabels(Names.MANAGED_BY, "nimbus")
        .endMetadata()
        .addNewWebhook()
        .withName(Names.FINALIZER_WEBHOOK_NAME)
        .withAdmissionReviewVersions("v1")
        .withSideEffects("None")
        .withFailurePolicy("Ignore")
        .withReinvocationPolicy("Never")
        .withTimeoutSeconds(localTimeoutSeconds())
        .withMatchPolicy("Equivalent")
        .withNamespaceSelector(namespaceSelector())
        .addNewRule()
        .withApiGroups("compute.nimbus.dev")
        .withApiVersions("v1alpha1")
        .withResources("virtualservers", "containertasks")
        .withOperations("CREATE")
        .withScope("Namespaced")
        .endRule()
        .withNewClientConfig()
        .withUrl(localWebhookUrl(FINALIZERS_PATH))
        .withCaBundle(caBundle)
        .endClientConfig()
        .endWebhook()
        .build();
  }

  /**
   * How long the API server waits for the webhooks of a local run: a quarter longer than the
   * ledger's decision timeout (10 s for the default 8 s), as an installed release's decision
   * timeout is four fifths of its webhook's, so that every decision is answered before the API
   * server gives up on it. The API server allows 1 to 30 s.
   */
  private int localTimeoutSeconds() {
    long millis = config.ledger().decisionTimeout().toMillis() * 5 / 4;
    return (int) Math.max(1, Math.min(30, (millis + 999) / 1000));
  }

  private ValidatingWebhookConfiguration configuration(String caBundle) {
    return new ValidatingWebhookConfigurationBuilder()
        .withNewMetadata()
        .withName(config.webhook().configurationName())
        .addToLabels(Names.MANAGED_BY, "nimbus")
        .endMetadata()
        .addNewWebhook()
        .withName(Names.WEBHOOK_NAME)
        .withAdmissionReviewVersions("v1")
        .withSideEffects("NoneOnDryRun")
        .withFailurePolicy("Fail")
        .withTimeoutSeconds(localTimeoutSeconds())
        .withMatchPolicy("Equivalent")
        .withMatchConditions(MATCH_CONDITIONS)
        .withNamespaceSelector(namespaceSelector())
        .addNewRule()
        .withApiGroups("compute.nimbus.dev")
        .withApiVersions("v1alpha1")
        .withResources("virtualservers", "containertasks")
        .withOperations("CREATE", "UPDATE")
        .withScope("Namespaced")
        .endRule()
        .addNewRule()
        .withApiGroups("compute.nimbus.dev")
        .withApiVersions("v1alpha1")
        .withResources("virtualservers")
        .withOperations("DELETE")
        .withScope("Namespaced")
        .endRule()
        .withNewClientConfig()
        .withUrl(localWebhookUrl(PATH))
        .withCaBundle(caBundle)
        .endClientConfig()
        .endWebhook()
        .build();
  }
}
