package dev.nimbus.workload;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import java.util.Optional;

/**
 * How the objects Nimbus creates for a workload hang together: owned by the workload (so they go
 * with it), and pinned to the node the ledger placed them on (so the scheduler agrees with the
 * ledger).
 */
public final class Links {
  private Links() {}

  /** The controller owner reference to {@code owner}; deletion waits for the owned object. */
  public static OwnerReference controlledBy(HasMetadata owner) {
    return new OwnerReferenceBuilder()
        .withApiVersion(owner.getApiVersion())
        .withKind(owner.getKind())
        .withName(owner.getMetadata().getName())
        .withUid(owner.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }

  /** The UID of {@code object}'s controller, if it has one. */
  public static Optional<String> controller(HasMetadata object) {
    return object.getMetadata().getOwnerReferences() == null
        ? Optional.empty()
        : object.getMetadata().getOwnerReferences().stream()
            .filter(ref -> Boolean.TRUE.equals(ref.getController()))
            .map(ref -> ref.getUid())
            .findFirst();
  }

  /**
   * Whether {@code object} is controlled by {@code owner}: only then did Nimbus create it for that
   * workload, whatever its name and labels say.
   */
  public static boolean isControlledBy(HasMetadata object, HasMetadata owner) {
    return controller(object).filter(owner.getMetadata().getUid()::equals).isPresent();
  }

  /** Required node affinity for exactly the node named {@code node}. */
  public static Affinity pinnedTo(String node) {
    return new AffinityBuilder()
        .withNewNodeAffinity()
        .withNewRequiredDuringSchedulingIgnoredDuringExecution()
        .addNewNodeSelectorTerm()
        // The node's name, not its kubernetes.io/hostname label: the two differ on some clouds.
        .addNewMatchField()
        .withKey("metadata.name")
        .withOperator("In")
        .withValues(node)
        .endMatchField()
        .endNodeSelectorTerm()
        .endRequiredDuringSchedulingIgnoredDuringExecution()
        .endNodeAffinity()
        .build();
  }

  /** The node {@code affinity} pins to, as {@link #pinnedTo} writes it; empty for any other. */
  public static Optional<String> pinnedNode(Affinity affinity) {
    return Optional.ofNullable(affinity)
        .map(Affinity::getNodeAffinity)
        .map(a -> a.getRequiredDuringSchedulingIgnoredDuringExecution())
        .map(r -> r.getNodeSelectorTerms())
        .filter(terms -> terms.size() == 1 && terms.get(0).getMatchFields() != null)
        .map(terms -> terms.get(0).getMatchFields())
        .filter(
            fields ->
                fields.size() == 1
                    && "metadata.name".equals(fields.get(0).getKey())
                    && "In".equals(fields.get(0).getOperator())
                    && fields.get(0).getValues() != null
                    && fields.get(0).getValues().size() == 1)
        .map(fields -> fields.get(0).getValues().get(0));
  }
}
