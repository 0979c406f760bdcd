package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.StoredLedgers;
import dev.nimbus.testing.WebhookClients;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Bad input straight to the webhook of a running operator, as any client that reaches its port
 * could send it: 10,000 bodies generated from a fixed seed (malformed JSON, reviews without
 * request, uid, kind or object, wrong types, spec-less, deep and oversized objects, unknown kinds,
 * UPDATEs without oldObject). A malformed body (not a review with a uid, kind and operation) gets a
 * 400 with a message; a well-formed review is answered with a review for its uid and never with a
 * 5xx, however wrong its object; afterwards the replica's threads and heap are back where they
 * were.
 *
 * <p>This operator registers no webhook configuration: the API server never calls it, and the
 * generated reviews name an instance type and a pool that do not exist, so nothing is reserved.
 */
@ExtendWith(LocalCluster.class)
class WebhookFuzzIT {
  private static final int PORT = 19643;
  private static final int BODIES = 10_000;
  private static final long SEED = 20261130L;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> OPERATIONS = Set.of("CREATE", "UPDATE", "DELETE", "CONNECT");
  private static OperatorProcess operator;
  private static HttpClient http;

  @BeforeAll
  static void startOperator() throws Exception {
    LocalCluster.client()
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName("nimbus-fuzz-it")
                .endMetadata()
                .build())
        .serverSideApply();
    // An earlier run on this control plane left the pool's ledger behind, holding the reservations
    // it forged: its operator stopped before their grace ended.
    StoredLedgers.delete(LocalCluster.client(), "nimbus-fuzz-it", "fuzz-pool");
    operator =
        OperatorProcess.start(
            "it-fuzz-operator",
            Map.of(
                "quarkus.http.port", "0",
                "nimbus.namespace", "nimbus-fuzz-it",
                "nimbus.webhook.host", "127.0.0.1",
                "nimbus.webhook.port", Integer.toString(PORT),
                "nimbus.webhook.extra-hosts", "127.0.0.1",
                "nimbus.webhook.configuration-name", "nimbus-fuzz-it-absent",
                "nimbus.leader-election.lease-name", "nimbus-fuzz-it"));
    http = WebhookClients.asApiServer();
  }

  @AfterAll
  static void stopOperator() {
    if (operator != null) {
      operator.close();
    }
  }

  /**
   * Admission has a side effect, a reservation: a review posted by a client without the API
   * server's client certificate is refused in the TLS handshake, before it is read, and the pool
   * does not change; the same review from the API server's identity reserves.
   */
  @Test
  void aReviewFromAnyoneButTheApiServerIsRefusedAndReservesNothing() throws Exception {
    KubernetesClient client = LocalCluster.client();
    client
        .nodes()
        .resource(Fixtures.kvmNode("it-fuzz-0", Map.of("nimbus-it/pool", "fuzz"), "8", "32Gi"))
        .serverSideApply();
    client.resource(Fixtures.instanceType("fuzz.one", 1, "1Gi")).serverSideApply();
    client.resource(Fixtures.serverPool("fuzz-pool", "nimbus-it/pool", "fuzz")).serverSideApply();
    try {
      ObjectNode review = validReview(new Random(SEED));
      ObjectNode request = (ObjectNode) review.get("request");
      request.put("operation", "CREATE").put("dryRun", false).remove("oldObject");
      ((ObjectNode) request.get("kind")).put("kind", "VirtualServer");
      ObjectNode server = workload("VirtualServer", new Random(SEED));
      ((ObjectNode) server.get("spec"))
          .put("instanceType", "fuzz.one")
          .put("pool", "fuzz-pool")
          .put("running", true)
          .put("maxCount", 1);
      ((ObjectNode) server.get("metadata")).put("uid", "forged-1");
      request.set("object", server);

      HttpClient anonymous = WebhookClients.anonymous();
      assertThatThrownBy(() -> post(anonymous, review.toString()))
          .as("a caller without the API server's certificate")
          .isInstanceOf(IOException.class);
      assertThat(StoredLedgers.read(client, "nimbus-fuzz-it", "fuzz-pool").entries())
          .as("reservations after the forged review")
          .isEmpty();

      // The pool's model may still be filling: the same review from the API server's identity.
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      String answer = "";
      while (System.nanoTime() < deadline && !answer.contains("\"allowed\":true")) {
        answer = post(http, review.toString()).body();
        Thread.sleep(200);
      }
      assertThat(answer).contains("\"allowed\":true");
      assertThat(StoredLedgers.read(client, "nimbus-fuzz-it", "fuzz-pool").entries())
          .containsKey("forged-1");

      // The API server says in the query how long it waits ("10s"; less when the request under
      // review may not last that long): a reservation is never written when it could land after
      // the caller stopped waiting.
      ((ObjectNode) server.get("metadata")).put("uid", "forged-2");
      request.put("uid", "review-of-forged-2");
      String noTimeLeft = post(http, WebhookServer.PATH + "?timeout=0s", review.toString()).body();
      assertThat(noTimeLeft).contains("\"allowed\":false", "\"code\":429", "retry the request");
      assertThat(StoredLedgers.read(client, "nimbus-fuzz-it", "fuzz-pool").entries())
          .doesNotContainKey("forged-2");
      assertThat(post(http, WebhookServer.PATH + "?timeout=10s", review.toString()).body())
          .contains("\"allowed\":true");
      assertThat(StoredLedgers.read(client, "nimbus-fuzz-it", "fuzz-pool").entries())
          .containsKey("forged-2");
    } finally {
      client.resources(CapacityPool.class).withName("fuzz-pool").delete();
      client.nodes().withName("it-fuzz-0").delete();
    }
  }

  @Test
  void tenThousandGeneratedBodiesAreAnsweredAsTheirShapeDeserves() throws Exception {
    Random random = new Random(SEED);
    List<String> bodies = new ArrayList<>();
    for (int i = 0; i < BODIES; i++) {
      bodies.add(body(random));
    }
    // Warm up first, as many clients at once as below: worker threads are started as concurrency
    // asks for them, and classes are loaded on first use.
    ExecutorService clients = Executors.newFixedThreadPool(8);
    List<Future<HttpResponse<String>>> warmUp = new ArrayList<>();
    for (int i = 0; i < 800; i++) {
      String body = bodies.get(i);
      warmUp.add(clients.submit(() -> post(body)));
    }
    for (Future<HttpResponse<String>> done : warmUp) {
      done.get();
    }
    long[] before = threadsAndHeap();

    // One body in five goes to the finalizers' endpoint, which shares the parsing and never denies.
    List<Future<String>> outcomes = new ArrayList<>();
    for (int i = 0; i < bodies.size(); i++) {
      String body = bodies.get(i);
      String path = i % 5 == 0 ? WebhookServer.FINALIZERS_PATH : WebhookServer.PATH;
      outcomes.add(clients.submit(() -> judge(path, body)));
    }
    Map<String, Integer> seen = new TreeMap<>();
    List<String> wrong = new ArrayList<>();
    for (Future<String> outcome : outcomes) {
      String verdict = outcome.get();
      if (verdict.startsWith("WRONG")) {
        wrong.add(verdict);
      } else {
        seen.merge(verdict, 1, Integer::sum);
      }
    }
    clients.shutdown();
    System.out.printf("[WebhookFuzzIT] %d bodies: %s%n", BODIES, seen);
    assertThat(wrong).as("answers that do not fit the body's shape").isEmpty();
    assertThat(seen.keySet())
        .as("every kind of answer was exercised")
        .contains(
            "400 malformed",
            "413 too large",
            "200 allowed",
            "200 denied 400",
            "finalizers 400 malformed",
            "finalizers 200 allowed",
            "finalizers 200 patched");

    long[] after = threadsAndHeap();
    System.out.printf(
        "[WebhookFuzzIT] threads %d -> %d, heap used after GC %d -> %d MiB%n",
        before[0], after[0], before[1] >> 20, after[1] >> 20);
    assertThat(after[0]).as("live threads").isLessThanOrEqualTo(before[0] + 4);
    assertThat(after[1]).as("heap used after GC").isLessThan(before[1] + (32L << 20));
  }

  /**
   * Posts {@code body} to {@code path} and says whether the answer fits its shape ("WRONG ..." when
   * not).
   */
  private static String judge(String path, String body) throws Exception {
    HttpResponse<String> response = post(http, path, body);
    int code = response.statusCode();
    String shape = shape(body);
    String text = response.body();
    String endpoint = path.equals(WebhookServer.PATH) ? "" : "finalizers ";
    switch (shape) {
      case "too large":
        return code == 413 ? endpoint + "413 too large" : wrong(body, response);
      case "malformed":
        return code == 400 && !text.isBlank() ? endpoint + "400 malformed" : wrong(body, response);
      default:
        if (code != 200) {
          return wrong(body, response);
        }
        JsonNode answer = JSON.readTree(text).path("response");
        if (!answer.path("uid").asText().equals(shape)) {
          return wrong(body, response);
        }
        if (!endpoint.isEmpty()) {
          if (!answer.path("allowed").asBoolean()) {
            return wrong(body, response);
          }
          if (answer.path("patch").isMissingNode() || answer.path("patch").isNull()) {
            return "finalizers 200 allowed";
          }
          JsonNode patch = JSON.readTree(Base64.getDecoder().decode(answer.path("patch").asText()));
          return patch.isArray() && "JSONPatch".equals(answer.path("patchType").asText())
              ? "finalizers 200 patched"
              : wrong(body, response);
        }
        if (answer.path("allowed").asBoolean()) {
          return "200 allowed";
        }
        int status = answer.path("status").path("code").asInt();
        String message = answer.path("status").path("message").asText();
        return status >= 400 && status < 500 && !message.isBlank()
            ? "200 denied " + status
            : wrong(body, response);
    }
  }

  private static String wrong(String body, HttpResponse<String> response) {
    return "WRONG: "
        + response.statusCode()
        + " "
        + clip(response.body())
        + " for "
        + shape(body)
        + " body "
        + clip(body);
  }

  private static String clip(String text) {
    return text.length() > 400 ? text.substring(0, 400) + "..." : text;
  }

  /**
   * What the endpoint must take the body for: "too large" past the limit, "malformed" when it is
   * not a review with a request holding a uid, kind.kind and a known operation, else the uid.
   */
  private static String shape(String body) {
    if (body.getBytes(StandardCharsets.UTF_8).length > AdmissionReviews.MAX_BODY_BYTES) {
      return "too large";
    }
    JsonNode tree;
    try {
      tree = JSON.readTree(body);
    } catch (Exception e) {
      return "malformed";
    }
    JsonNode request = tree == null ? null : tree.get("request");
    if (request == null || !request.isObject()) {
      return "malformed";
    }
    JsonNode uid = request.get("uid");
    JsonNode kind = request.path("kind").get("kind");
    JsonNode operation = request.get("operation");
    boolean wellFormed =
        uid != null
            && uid.isTextual()
            && !uid.asText().isBlank()
            && request.path("kind").isObject()
            && kind != null
            && kind.isTextual()
            && !kind.asText().isBlank()
            && operation != null
            && operation.isTextual()
            && OPERATIONS.contains(operation.asText())
            && (request.get("dryRun") == null
                || request.get("dryRun").isNull()
                || request.get("dryRun").isBoolean());
    return wellFormed ? uid.asText() : "malformed";
  }

  private static HttpResponse<String> post(String body) throws Exception {
    return post(http, WebhookServer.PATH, body);
  }

  private static HttpResponse<String> post(HttpClient http, String body) throws Exception {
    return post(http, WebhookServer.PATH, body);
  }

  private static HttpResponse<String> post(HttpClient http, String path, String body)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + PORT + path))
            .header("Content-Type", "application/json")
            .timeout(Duration.ofSeconds(20))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Live threads and heap used right after a full collection. */
  private static long[] threadsAndHeap() throws Exception {
    operator.collectGarbage();
    Thread.sleep(500);
    double threads = operator.gauge("jvm_threads_live_threads", "");
    double heap = operator.gauge("jvm_memory_used_bytes", "area=\"heap\"");
    assertThat(threads).as("jvm_threads_live_threads").isPositive();
    assertThat(heap).as("jvm_memory_used_bytes{area=heap}").isPositive();
    return new long[] {(long) threads, (long) heap};
  }

  // ---- The generator: a valid review, then what a careless or hostile client makes of it. ----

  private static String body(Random random) {
    int pick = random.nextInt(100);
    if (pick < 12) {
      return garbage(random);
    }
    if (pick < 13) {
      return oversized(random);
    }
    ObjectNode review = validReview(random);
    int mutations = pick < 25 ? 0 : 1 + random.nextInt(4);
    for (int i = 0; i < mutations; i++) {
      mutate(review, random);
    }
    String text = review.toString();
    if (random.nextInt(20) == 0) {
      // Cut short anywhere: a client that closed early, or a proxy that broke the body.
      return text.substring(0, random.nextInt(text.length()));
    }
    return text;
  }

  private static String garbage(Random random) {
    return switch (random.nextInt(9)) {
      case 0 -> "";
      case 1 -> "null";
      case 2 -> "[]";
      case 3 -> Integer.toString(random.nextInt());
      case 4 -> "\"an admission review\"";
      case 5 -> "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}";
      case 6 -> "{\"request\":" + JSON.valueToTree(randomScalar(random)) + "}";
      case 7 -> "[".repeat(1 + random.nextInt(5000));
      default -> {
        byte[] bytes = new byte[random.nextInt(2048)];
        random.nextBytes(bytes);
        yield new String(bytes, StandardCharsets.ISO_8859_1);
      }
    };
  }

  private static String oversized(Random random) {
    ObjectNode review = validReview(random);
    ((ObjectNode) review.get("request"))
        .put("padding", "x".repeat(AdmissionReviews.MAX_BODY_BYTES + random.nextInt(1024)));
    return review.toString();
  }

  private static ObjectNode validReview(Random random) {
    String kind = random.nextInt(3) == 0 ? "ContainerTask" : "VirtualServer";
    String operation = List.of("CREATE", "CREATE", "UPDATE", "DELETE").get(random.nextInt(4));
    ObjectNode review = JsonNodeFactory.instance.objectNode();
    review.put("apiVersion", "admission.k8s.io/v1").put("kind", "AdmissionReview");
    ObjectNode request = review.putObject("request");
    request.put("uid", "fuzz-" + Long.toHexString(random.nextLong()));
    request
        .putObject("kind")
        .put("group", "compute.nimbus.dev")
        .put("version", "v1alpha1")
        .put("kind", kind);
    request.put("namespace", "fuzz").put("name", "w").put("operation", operation);
    request.putObject("userInfo").put("username", "fuzzer");
    ObjectNode object = workload(kind, random);
    if (!operation.equals("DELETE")) {
      request.set("object", object);
    }
    if (!operation.equals("CREATE")) {
      request.set("oldObject", workload(kind, random));
    }
    request.put("dryRun", random.nextBoolean());
    return review;
  }

  private static ObjectNode workload(String kind, Random random) {
    ObjectNode object = JsonNodeFactory.instance.objectNode();
    object.put("apiVersion", "compute.nimbus.dev/v1alpha1").put("kind", kind);
    object
        .putObject("metadata")
        .put("name", "w")
        .put("namespace", "fuzz")
        .put("uid", "u-" + random.nextInt(1000))
        .put("generation", 1 + random.nextInt(3));
    ObjectNode spec = object.putObject("spec");
    if (kind.equals("VirtualServer")) {
      spec.put("image", "quay.io/containerdisks/fedora:40")
          .put("instanceType", "fuzz.none")
          .put("minCount", 1)
          .put("maxCount", 1 + random.nextInt(3))
          .put("pool", "fuzz-none")
          .put("running", random.nextBoolean())
          .put("terminationProtection", random.nextBoolean());
    } else {
      spec.put("cluster", "fuzz-none").put("launchType", "FARGATE").put("count", 1);
      ObjectNode definition = spec.putObject("taskDefinition");
      definition.put("family", "fuzz").put("cpu", "256").put("memory", "512");
      ArrayNode containers = definition.putArray("containers");
      containers.addObject().put("name", "main").put("image", "busybox").put("essential", true);
    }
    return object;
  }

  private static void mutate(ObjectNode review, Random random) {
    List<ObjectNode> parents = new ArrayList<>();
    collectObjects(review, parents);
    ObjectNode parent = parents.get(random.nextInt(parents.size()));
    List<String> fields = new ArrayList<>();
    parent.fieldNames().forEachRemaining(fields::add);
    switch (random.nextInt(7)) {
      case 0, 1 -> {
        if (!fields.isEmpty()) {
          parent.remove(fields.get(random.nextInt(fields.size())));
        }
      }
      case 2, 3 -> {
        if (!fields.isEmpty()) {
          parent.set(
              fields.get(random.nextInt(fields.size())), JSON.valueToTree(randomScalar(random)));
        }
      }
      case 4 -> parent.set("unknown" + random.nextInt(10), deep(random, random.nextInt(60)));
      case 5 -> {
        if (review.get("request") instanceof ObjectNode request
            && request.get("kind") instanceof ObjectNode kind) {
          kind.put(
              "kind",
              List.of("Pod", "Secret", "CapacityPool", "", "VirtualServer").get(random.nextInt(5)));
        }
      }
      default -> {
        if (!fields.isEmpty()) {
          parent.put(
              fields.get(random.nextInt(fields.size())), "y".repeat(random.nextInt(100_000)));
        }
      }
    }
  }

  private static void collectObjects(JsonNode node, List<ObjectNode> into) {
    if (node instanceof ObjectNode object) {
      into.add(object);
    }
    node.elements().forEachRemaining(child -> collectObjects(child, into));
  }

  private static JsonNode deep(Random random, int depth) {
    JsonNode node = JSON.valueToTree(randomScalar(random));
    for (int i = 0; i < depth; i++) {
      node =
          random.nextBoolean()
              ? JsonNodeFactory.instance.objectNode().set("n", node)
              : JsonNodeFactory.instance.arrayNode().add(node);
    }
    return node;
  }

  private static Object randomScalar(Random random) {
    return switch (random.nextInt(8)) {
      case 0 -> null;
      case 1 -> random.nextBoolean();
      case 2 -> random.nextInt();
      case 3 -> random.nextLong();
      case 4 -> random.nextDouble() * 1e300;
      case 5 -> "";
      case 6 -> List.of(random.nextInt(), "a");
      default -> Map.of("k", random.nextInt());
    };
  }
}
