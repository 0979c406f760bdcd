package dev.nimbus.naming;

import dev.nimbus.api.v1alpha1.ApiGroup;

/**
 * Every name that Nimbus derives: of the objects it owns, of its labels and annotations. Nothing
 * else in the code builds such a name, so a rename happens here or nowhere.
 */
public final class Names {
  /** Labels every object that Nimbus creates, with the value {@code nimbus}. */
  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";

  /** The pool whose capacity a ledger holds. */
  public static final String POOL_LABEL = ApiGroup.GROUP + "/pool";

  /** The key of a ledger ConfigMap that holds the reservations, as JSON. */
  public static final String LEDGER_KEY = "reservations.json";

  /** Nodes that may host a VirtualServer carry this label with the value "true". */
  public static final String KVM_NODE_LABEL = "kubevirt.io/schedulable";

  /** The zone of a node; a ContainerTask's subnets name zones. */
  public static final String ZONE_LABEL = "topology.kubernetes.io/zone";

  /** The name of the validating webhook for VirtualServers and ContainerTasks. */
  public static final String WEBHOOK_NAME = "workloads.compute.nimbus.dev";

  private Names() {}

  /** The ConfigMap, in the operator's namespace, that holds the reservations of a pool. */
  public static String ledger(String pool) {
    return "nimbus-ledger-" + pool;
  }
}
