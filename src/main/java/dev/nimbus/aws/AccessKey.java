package dev.nimbus.aws;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * An access key of the AWS API, as a cluster administrator issues it in a Secret of the operator's
 * namespace (docs/aws-api.md): its id and secret, the namespace its calls act in, and the
 * Kubernetes user they run as.
 *
 * <p>No groups are impersonated with the user: for a ServiceAccount the API server adds the groups
 * its tokens carry, and {@code system:authenticated} for every user, so that the operator needs the
 * right to impersonate the user and nothing more.
 */
public record AccessKey(String id, String secret, String namespace, String user) {
  private static final Pattern ID = Pattern.compile("[A-Z0-9]{16,128}");

  @Override
  public String toString() {
    return "AccessKey[" + id + " as " + user + " in " + namespace + "]";
  }

  /**
   * The key a Secret holds: {@code data} decoded, {@code namespace} and {@code user} from its
   * annotations; refused with what is missing or malformed.
   */
  public static AccessKey of(
      String secretName, Map<String, String> data, String namespace, String user) {
    String id = data.get("accessKeyId");
    String secret = data.get("secretAccessKey");
    String problem = null;
    if (id == null || !ID.matcher(id).matches()) {
      problem = "data.accessKeyId must be 16 to 128 upper-case letters and digits, was " + id;
    } else if (secret == null || secret.length() < 16) {
      problem = "data.secretAccessKey must hold at least 16 characters";
    } else if (namespace == null || namespace.isBlank()) {
      problem = "the annotation naming the namespace its calls act in is missing";
    } else if (user == null || user.isBlank()) {
      problem = "the annotation naming the Kubernetes user its calls run as is missing";
    }
    if (problem != null) {
      throw new IllegalArgumentException("access key Secret " + secretName + ": " + problem);
    }
    return new AccessKey(id, secret, namespace, user);
  }
}
