package dev.nimbus.aws;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.metrics.NimbusMetrics;
import dev.nimbus.webhook.CertificateManager;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * Serves the AWS API (docs/aws-api.md) over HTTPS on a port of its own, with the webhook's serving
 * certificate: verifies each request's signature against the access keys, then answers it with a
 * client that impersonates the key's identity, so that RBAC judges every call. Only decodes,
 * verifies, dispatches and encodes; the actions are {@link Ec2Actions}.
 */
@ApplicationScoped
public class AwsEndpoint {
  private static final Logger LOG = Logger.getLogger(AwsEndpoint.class);
  static final int IDLE_TIMEOUT_SECONDS = 60;

  private final Vertx vertx;
  private final KubernetesClient client;
  private final NimbusConfig config;
  private final CertificateManager certificates;
  private final AccessKeys keys;
  private final ServerViews servers;
  private final NimbusMetrics metrics;
  private final WatchedNamespaces watched;
  private HttpServer server;
  private CertificateManager.Pems serving;

  public AwsEndpoint(
      Vertx vertx,
      KubernetesClient client,
      NimbusConfig config,
      CertificateManager certificates,
      AccessKeys keys,
      ServerViews servers,
      NimbusMetrics metrics,
      WatchedNamespaces watched) {
    this.watched = watched;
    this.vertx = vertx;
    this.client = client;
    this.config = config;
    this.certificates = certificates;
    this.keys = keys;
    this.servers = servers;
    this.metrics = metrics;
  }

  void start(@Observes StartupEvent event) throws Exception {
    if (!config.aws().enabled()) {
      return;
    }
    keys.start();
    servers.start();
    serving = certificates.ensure();
    Router router = Router.router(vertx);
    router.post("/").handler(BodyHandler.create().setBodyLimit(config.aws().maxBodyBytes()));
    router.post("/").blockingHandler(this::handle, false);
    server =
        vertx
            .createHttpServer(
                new HttpServerOptions()
                    .setIdleTimeout(IDLE_TIMEOUT_SECONDS)
                    .setIdleTimeoutUnit(TimeUnit.SECONDS)
                    .setSsl(true)
                    .setKeyCertOptions(serving.keyCertOptions())
                    .setHost(config.aws().host())
                    .setPort(config.aws().port()))
            .requestHandler(router)
            .listen()
            .toCompletionStage()
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
    LOG.infof(
        "Serving the AWS API (EC2) on https://%s:%d", config.aws().host(), server.actualPort());
    vertx.setPeriodic(
        config.webhook().certificateCheckInterval().toMillis(),
        id ->
            vertx.executeBlocking(
                () -> {
                  servedRenewedCertificate();
                  return null;
                }));
  }

  void stop(@Observes ShutdownEvent event) {
    if (server != null) {
      server.close();
    }
    keys.stop();
    servers.stop();
  }

  private void handle(RoutingContext context) {
    String requestId = UUID.randomUUID().toString();
    long started = System.nanoTime();
    var http = context.request();
    // ECS's JSON protocol names its action in a header; EC2's Query protocol in the body.
    String target = http.getHeader("X-Amz-Target");
    String action = "Other";
    String code = "OK";
    try {
      SignedRequest signed =
          new SignedRequest(
              http.method().name(),
              http.path(),
              http.query(),
              headers(context),
              context.body().buffer() == null ? new byte[0] : context.body().buffer().getBytes());
      String body = new String(signed.body(), StandardCharsets.UTF_8);
      if (target != null) {
        action = known(target.substring(target.indexOf('.') + 1), EcsActions.ACTIONS);
        AccessKey key =
            served(
                verify(signed, AwsEndpoint::ecsRefusal),
                why -> new EcsException(400, "AccessDeniedException", why));
        String answer = EcsActions.answer(callerFor(key), key, target, body);
        context
            .response()
            .putHeader("Content-Type", "application/x-amz-json-1.1")
            .putHeader("x-amzn-RequestId", requestId)
            .end(Buffer.buffer(answer));
        return;
      }
      action = known(actionOf(body), Ec2Actions.ACTIONS);
      // Who signed first: a caller that is not known learns nothing, not even what it got wrong.
      AccessKey key =
          served(
              verify(signed, AwsEndpoint::ec2Refusal),
              why ->
                  new Ec2Exception(
                      403,
                      "UnauthorizedOperation",
                      "You are not authorized to perform this operation: " + why));
      Ec2Request request = Ec2Request.parse(body);
      String answer;
      try {
        answer = Ec2Actions.answer(callerFor(key), servers, key, request, requestId);
      } catch (KubernetesClientException e) {
        throw Ec2Errors.of(e);
      }
      context
          .response()
          .putHeader("Content-Type", "text/xml;charset=UTF-8")
          .putHeader("x-amzn-RequestId", requestId)
          .end(Buffer.buffer(answer));
    } catch (Ec2Exception e) {
      code = e.code();
      fail(context, e.status(), e.code(), e.getMessage(), requestId);
    } catch (EcsException e) {
      code = e.type();
      failEcs(context, e.status(), e.type(), e.getMessage(), requestId);
    } catch (RuntimeException e) {
      LOG.errorf(e, "AWS API request %s failed", requestId);
      if (target != null) {
        code = "ServerException";
        failEcs(context, 500, code, "An internal error has occurred", requestId);
      } else {
        code = "InternalError";
        fail(context, 500, code, "An internal error has occurred", requestId);
      }
    } finally {
      metrics.awsRequest(
          target != null ? "ecs" : "ec2",
          action,
          code,
          Duration.ofNanos(System.nanoTime() - started));
    }
  }

  /** The Action of an EC2 body, for the metrics; empty when the body cannot be read. */
  private static String actionOf(String body) {
    try {
      return Ec2Request.parse(body).string("Action").orElse("");
    } catch (Ec2Exception e) {
      return "";
    }
  }

  /** {@code action} when Nimbus serves it, else Other: a bounded label for the metrics. */
  private static String known(String action, Set<String> served) {
    return served.contains(action) ? action : "Other";
  }

  /**
   * The key that signed {@code request}; otherwise {@code refusal}'s error for why none did, in the
   * caller's protocol.
   */
  private AccessKey verify(
      SignedRequest request, Function<SigV4.VerificationException, RuntimeException> refusal) {
    try {
      var verified =
          SigV4.verify(request, id -> keys.find(id).map(AccessKey::secret), Instant.now());
      var key = keys.find(verified.accessKeyId());
      if (key.isEmpty()) {
        throw new SigV4.VerificationException(
            SigV4.Failure.UNKNOWN_KEY, "the access key was revoked just now");
      }
      return key.get();
    } catch (SigV4.VerificationException e) {
      throw refusal.apply(e);
    }
  }

  /**
   * {@code key}, when this install serves its namespace; otherwise {@code refusal}'s error: its
   * calls would make workloads that no controller of this install runs.
   */
  private AccessKey served(AccessKey key, Function<String, RuntimeException> refusal) {
    if (!watched.includes(key.namespace())) {
      throw refusal.apply(
          "the access key's namespace \""
              + key.namespace()
              + "\" is not one this Nimbus serves (nimbus.watch-namespaces)");
    }
    return key;
  }

  /** A failed verification as EC2 answers it. */
  private static RuntimeException ec2Refusal(SigV4.VerificationException e) {
    return switch (e.failure()) {
      case MISSING_AUTHENTICATION, UNKNOWN_KEY ->
          new Ec2Exception(
              401,
              "AuthFailure",
              "AWS was not able to validate the provided access credentials: " + e.getMessage());
      case INCOMPLETE_SIGNATURE -> new Ec2Exception(400, "IncompleteSignature", e.getMessage());
      case SIGNATURE_MISMATCH -> new Ec2Exception(403, "SignatureDoesNotMatch", e.getMessage());
      case EXPIRED -> new Ec2Exception(400, "RequestExpired", e.getMessage());
    };
  }

  /** A failed verification as ECS answers it. */
  private static RuntimeException ecsRefusal(SigV4.VerificationException e) {
    return switch (e.failure()) {
      case MISSING_AUTHENTICATION ->
          new EcsException(400, "MissingAuthenticationTokenException", e.getMessage());
      case UNKNOWN_KEY ->
          new EcsException(
              400,
              "UnrecognizedClientException",
              "The security token included in the request is invalid: " + e.getMessage());
      case INCOMPLETE_SIGNATURE ->
          new EcsException(400, "IncompleteSignatureException", e.getMessage());
      case SIGNATURE_MISMATCH, EXPIRED ->
          new EcsException(400, "InvalidSignatureException", e.getMessage());
    };
  }

  /** A client that acts as the key's identity, sharing the operator's connections. */
  private KubernetesClient callerFor(AccessKey key) {
    var requestConfig =
        new RequestConfigBuilder(client.getConfiguration().getRequestConfig()).build();
    requestConfig.setImpersonateUsername(key.user());
    return client.newClient(requestConfig).adapt(KubernetesClient.class);
  }

  private static Map<String, List<String>> headers(RoutingContext context) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    context
        .request()
        .headers()
        .forEach(
            h -> headers.computeIfAbsent(h.getKey(), n -> new ArrayList<>()).add(h.getValue()));
    return headers;
  }

  private static void fail(
      RoutingContext context, int status, String code, String message, String requestId) {
    context
        .response()
        .setStatusCode(status)
        .putHeader("Content-Type", "text/xml;charset=UTF-8")
        .putHeader("x-amzn-RequestId", requestId)
        .end(Buffer.buffer(Ec2Xml.error(code, message, requestId)));
  }

  private static void failEcs(
      RoutingContext context, int status, String type, String message, String requestId) {
    var error = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
    error.put("__type", type).put("message", message);
    context
        .response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/x-amz-json-1.1")
        .putHeader("x-amzn-RequestId", requestId)
        .end(Buffer.buffer(error.toString()));
  }

  /** Serves the certificate another replica or the webhook renewed, as the webhook does. */
  private void servedRenewedCertificate() {
    CertificateManager.Pems latest = certificates.ensure();
    if (!latest.equals(serving)) {
      server.updateSSLOptions(
          new io.vertx.core.net.SSLOptions().setKeyCertOptions(latest.keyCertOptions()));
      serving = latest;
    }
  }
}
