package dev.nimbus.inventory;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import io.fabric8.kubernetes.api.model.Node;
import java.util.List;
import java.util.Optional;

/**
 * What a decision reads of the cluster: nodes, pools, instance types, key pairs, security groups,
 * and which workloads are stored. {@link Inventory} serves it from watches; a decision never asks
 * anything else, so it can be made on any catalog, such as a fixed one in a test.
 */
public interface Catalog {
  List<Node> nodes();

  Optional<Node> node(String name);

  List<CapacityPool> pools();

  Optional<CapacityPool> pool(String name);

  Optional<InstanceType> instanceType(String name);

  List<InstanceType> instanceTypes();

  Optional<KeyPair> keyPair(String namespace, String name);

  Optional<SecurityGroup> securityGroup(String namespace, String name);

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
