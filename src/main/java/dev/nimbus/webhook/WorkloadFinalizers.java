package dev.nimbus.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;

/**
 * The mutating webhook's answer: a created VirtualServer or ContainerTask gets the finalizer its
 * controller holds it with, so that the API server stores it with the object instead of taking one
 * more write from the controller for every create (a write costs the API server about what the
 * create does). It never refuses anything: admission is the validating webhook's; an object of the
 * wrong shape is left for the validating webhook and the schema to refuse. Where this webhook was
 * not called (not installed yet, no replica answered), the controller adds the finalizer before
 * anything else, as it always did.
 */
final class WorkloadFinalizers {
  private static final Map<String, String> FINALIZER_OF_KIND =
      Map.of("VirtualServer", Names.SERVER_FINALIZER, "ContainerTask", Names.TASK_FINALIZER);

  private WorkloadFinalizers() {}

  static AdmissionResponse review(AdmissionReviews.Request request) {
    var response = new AdmissionResponseBuilder().withUid(request.uid()).withAllowed(true);
    patch(request)
        .ifPresent(
            patch ->
                response
                    .withPatchType("JSONPatch")
                    .withPatch(
                        Base64.getEncoder()
                            .encodeToString(patch.getBytes(StandardCharsets.UTF_8))));
    return response.build();
  }

  /** The JSON Patch that adds the finalizer, or none where it is there or not Nimbus' to add. */
  static Optional<String> patch(AdmissionReviews.Request request) {
    String finalizer = FINALIZER_OF_KIND.get(request.kind());
    JsonNode object = request.object();
    JsonNode metadata = object == null ? null : object.get("metadata");
    if (finalizer == null
        || !"CREATE".equals(request.operation())
        || metadata == null
        || !metadata.isObject()) {
      return Optional.empty();
    }
    JsonNode finalizers = metadata.get("finalizers");
    String quoted = "\"" + finalizer + "\"";
    if (finalizers == null || finalizers.isNull()) {
      return Optional.of(
          "[{\"op\":\"add\",\"path\":\"/metadata/finalizers\",\"value\":[" + quoted + "]}]");
    }
    if (!finalizers.isArray()) {
      return Optional.empty(); // the schema refuses it
    }
    for (JsonNode present : finalizers) {
      if (finalizer.equals(present.asText(null))) {
        return Optional.empty();
      }
    }
    return Optional.of(
        "[{\"op\":\"add\",\"path\":\"/metadata/finalizers/-\",\"value\":" + quoted + "}]");
  }
}
