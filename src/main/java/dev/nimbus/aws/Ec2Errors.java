package dev.nimbus.aws;

import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.Set;

/**
 * A refusal of the Kubernetes API in EC2's words: the webhook's capacity denials are EC2's {@code
 * InsufficientInstanceCapacity} with the webhook's numbers, RBAC's refusals {@code
 * UnauthorizedOperation}, the schema's and the webhook's other refusals {@code
 * InvalidParameterValue}, each with the API server's message.
 */
final class Ec2Errors {
  /** The webhook's reasons for a pool without room (AdmissionDecision). */
  private static final Set<String> NO_ROOM =
      Set.of("InsufficientCapacity", "NoNodeFits", "NoEligibleNode", "NoPodSlot");

  /** The webhook's reasons for "try again shortly". */
  private static final Set<String> RETRY = Set.of("Contention", "UnconfirmedShare");

  private Ec2Errors() {}

  static Ec2Exception of(KubernetesClientException e) {
    String reason = e.getStatus() == null ? null : e.getStatus().getReason();
    String message = e.getStatus() == null ? e.getMessage() : e.getStatus().getMessage();
    if (reason != null && NO_ROOM.contains(reason)) {
      return new Ec2Exception(500, "InsufficientInstanceCapacity", message);
    }
    if (e.getCode() == 429 || (reason != null && RETRY.contains(reason))) {
      return new Ec2Exception(503, "RequestLimitExceeded", message);
    }
    if ("TerminationProtection".equals(reason)) {
      return new Ec2Exception(400, "OperationNotPermitted", message);
    }
    return switch (e.getCode()) {
      case 403 ->
          new Ec2Exception(
              403,
              "UnauthorizedOperation",
              "You are not authorized to perform this operation: " + message);
      case 400, 404, 409, 422 -> new Ec2Exception(400, "InvalidParameterValue", message);
      default ->
          new Ec2Exception(
              503, "Unavailable", "The Kubernetes API did not answer (" + message + "): retry");
    };
  }
}
