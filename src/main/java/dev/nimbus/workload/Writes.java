package dev.nimbus.workload;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.Optional;

/** The writes that the workload controllers share. */
public final class Writes {
  private Writes() {}

  /** How often a workload looks again at a name that another object holds. */
  public static final Duration NAME_TAKEN_RECHECK = Duration.ofSeconds(30);

  /**
   * Creates {@code desired}, or returns the stored object when an earlier reconcile created it and
   * the cache has not seen it yet: names are deterministic, so a create never duplicates. Empty
   * when the name is held by an object that {@code desired}'s controller does not control (a
   * tenant's own): that one is never adopted.
   */
  public static <T extends HasMetadata> Optional<T> createOrAdopt(
      KubernetesClient client, T desired) {
    try {
      return Optional.of(client.resource(desired).create());
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      T stored = client.resource(desired).get();
      if (stored == null) {
        throw e; // deleted since: the next reconcile creates it
      }
      return sameController(stored, desired) ? Optional.of(stored) : Optional.empty();
    }
  }

  /**
   * The Warning that says {@code waiting} (an instance, a task) waits because {@code desired}'s
   * name is held by an object that is not its workload's.
   */
  public static String nameTaken(HasMetadata desired, String waiting) {
    return desired.getKind()
        + " "
        + desired.getMetadata().getName()
        + " exists and is not its workload's: Nimbus never adopts, changes or deletes it; "
        + waiting
        + " waits until it is renamed or deleted";
  }

  private static boolean sameController(HasMetadata stored, HasMetadata desired) {
    return Links.controller(desired).isPresent()
        && Links.controller(desired).equals(Links.controller(stored));
  }

  /** Whether a create was refused because its namespace is being deleted. */
  public static boolean namespaceTerminating(KubernetesClientException e) {
    return e.getCode() == 403
        && e.getStatus() != null
        && e.getStatus().getDetails() != null
        && e.getStatus().getDetails().getCauses() != null
        && e.getStatus().getDetails().getCauses().stream()
            .anyMatch(cause -> "NamespaceTerminating".equals(cause.getReason()));
  }
}
