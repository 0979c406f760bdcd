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
   * Whether a VirtualServer or ContainerTask of {@code uid} is stored, as far as this replica has
   * seen: a reservation whose object is not is held for a create still in flight, or for one that
   * failed after it was admitted.
   */
  boolean stored(String uid);
}
