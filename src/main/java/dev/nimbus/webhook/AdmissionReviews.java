package dev.nimbus.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.Set;

/**
 * The webhook's wire format: an {@code admission.k8s.io/v1} AdmissionReview in, one out. A body
 * that is not a review Nimbus can answer (not JSON, no {@code request}, no {@code uid}, {@code
 * kind} or {@code operation}) is malformed, and the endpoint answers it with HTTP 400 and this
 * class's message; whatever else a well-formed review holds is decided, and answered in the review.
 */
final class AdmissionReviews {
  /**
   * The largest body the endpoint reads. An UPDATE's review carries the object twice (object and
   * oldObject), each at most etcd's default request limit of 1.5 MiB, plus the envelope.
   */
  static final int MAX_BODY_BYTES = 4 * 1024 * 1024;

  private static final ObjectMapper TREE = new ObjectMapper();
  private static final Set<String> OPERATIONS = Set.of("CREATE", "UPDATE", "DELETE", "CONNECT");

  private AdmissionReviews() {}

  /** What a body turned out to be. */
  sealed interface Parsed {}

  /** A review to decide. */
  record Review(Request request) implements Parsed {}

  /**
   * What Nimbus reads of a review's request: who asks is the API server's business, not the
   * decision's. The objects stay JSON until the decision reads them as their kind, so that an
   * object of the wrong shape is answered in the review (denied, 400), not taken for a malformed
   * review.
   */
  record Request(
      String uid,
      String kind,
      String operation,
      String namespace,
      String name,
      boolean dryRun,
      JsonNode object,
      JsonNode oldObject) {}

  /** A body that cannot be answered in a review; {@code message} says what is wrong. */
  record Malformed(String message) implements Parsed {}

  static Parsed parse(String body) {
    JsonNode tree;
    try {
      tree = TREE.readTree(body);
    } catch (Exception e) {
      return new Malformed(
          "the body is not JSON: " + firstLine(e.getMessage()) + "; expected an AdmissionReview");
    }
    if (tree == null || !tree.isObject()) {
      return new Malformed("the body is not a JSON object; expected an AdmissionReview");
    }
    JsonNode request = tree.get("request");
    if (request == null || !request.isObject()) {
      return new Malformed("the AdmissionReview has no request object");
    }
    String missing = missingField(request);
    if (missing != null) {
      return new Malformed("the AdmissionReview's request has no " + missing);
    }
    JsonNode dryRun = request.get("dryRun");
    if (dryRun != null && !dryRun.isNull() && !dryRun.isBoolean()) {
      return new Malformed("the AdmissionReview's request.dryRun is not a boolean");
    }
    return new Review(
        new Request(
            request.get("uid").asText(),
            request.get("kind").get("kind").asText(),
            request.get("operation").asText(),
            text(request.get("namespace")),
            text(request.get("name")),
            dryRun != null && dryRun.asBoolean(),
            request.get("object"),
            request.get("oldObject")));
  }

  private static String text(JsonNode node) {
    return node != null && node.isTextual() ? node.asText() : null;
  }

  /** The first field of {@code request} that a review must have and this one lacks, or null. */
  private static String missingField(JsonNode request) {
    if (!isText(request.get("uid"))) {
      return "uid (a string)";
    }
    JsonNode kind = request.get("kind");
    if (kind == null || !kind.isObject() || !isText(kind.get("kind"))) {
      return "kind.kind (a string)";
    }
    JsonNode operation = request.get("operation");
    if (!isText(operation) || !OPERATIONS.contains(operation.asText())) {
      return "operation (one of " + String.join(", ", OPERATIONS.stream().sorted().toList()) + ")";
    }
    return null;
  }

  private static boolean isText(JsonNode node) {
    return node != null && node.isTextual() && !node.asText().isBlank();
  }

  static String answer(KubernetesSerialization json, AdmissionResponse response) {
    AdmissionReview review =
        new AdmissionReviewBuilder()
            .withApiVersion("admission.k8s.io/v1")
            .withKind("AdmissionReview")
            .withResponse(response)
            .build();
    return json.asJson(review);
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int end = message.indexOf('\n');
    String line = end < 0 ? message : message.substring(0, end);
    return line.length() > 300 ? line.substring(0, 300) + "..." : line;
  }
}
