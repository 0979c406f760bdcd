package dev.nimbus.inventory;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevisionSpec;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.Node;
import java.util.List;
import java.util.Optional;

/**
 * What a decision reads of the cluster: nodes, pools, instance types, key pairs, security groups,
 * task definition revisions, and which workloads are stored. {@link Inventory} serves it from
 * watches; a decision never asks anything else, so it can be made on any catalog, such as a fixed
 * one in a test.
 */
public interface Catalog {
  /**
   * Whether this install serves {@code namespace}'s workloads ({@code nimbus.watch-namespaces}).
   */
  boolean serves(String namespace);

  List<Node> nodes();

  Optional<Node> node(String name);

  List<CapacityPool> pools();

  Optional<CapacityPool> pool(String name);

  Optional<InstanceType> instanceType(String name);

  List<InstanceType> instanceTypes();

  Optional<KeyPair> keyPair(String namespace, String name);

  /** Whether the SecurityGroup exists: all admission asks of a group (its rules are not kept). */
  boolean hasSecurityGroup(String namespace, String name);

  Optional<TaskDefinitionRevision> taskDefinitionRevision(String namespace, String name);

  /**
   * What {@code task} runs: its own {@code spec.taskDefinition}, or the revision its {@code
   * spec.taskDefinitionRef} ({@code family:revision}) names in its namespace; empty when that
   * revision does not exist (or belongs to another family whose name differs only in case).
   */
  default Optional<TaskDefinition> taskDefinition(ContainerTask task) {
    var spec = task.getSpec();
    if (spec.taskDefinition() != null || spec.taskDefinitionRef() == null) {
      return Optional.ofNullable(spec.taskDefinition());
    }
    String ref = spec.taskDefinitionRef();
    int colon = ref.lastIndexOf(':');
    if (colon < 0) {
      return Optional.empty();
    }
    String family = ref.substring(0, colon);
    int revision;
    try {
      revision = Integer.parseInt(ref.substring(colon + 1));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    return taskDefinitionRevision(
            task.getMetadata().getNamespace(), Names.taskDefinitionRevision(family, revision))
        .map(TaskDefinitionRevision::getSpec)
        .filter(
            found -> found.revision() == revision && family.equals(found.taskDefinition().family()))
        .map(TaskDefinitionRevisionSpec::taskDefinition);
  }

  /**
   * The UID of the VirtualServer or ContainerTask ({@code kind}) stored as {@code namespace/name},
   * as far as this replica has seen: a reservation whose object is not stored is held for a create
   * still in flight, or for one that failed after it was admitted; a create of a name taken can
   * never be stored.
   */
  Optional<String> storedUid(String kind, String namespace, String name);

  /** Whether the workload of {@code uid}, {@code kind} {@code namespace/name}, is stored. */
  default boolean stored(String kind, String namespace, String name, String uid) {
    return storedUid(kind, namespace, name).filter(uid::equals).isPresent();
  }
}
