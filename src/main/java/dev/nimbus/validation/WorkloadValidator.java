package dev.nimbus.validation;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.inventory.Catalog;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The checks the schema cannot make because they need other objects: that references exist in the
 * object's own namespace, and that the pool serves the kind. The admission webhook refuses a
 * request with these errors; the controllers report them in a condition for objects that were
 * stored before a reference vanished.
 */
public final class WorkloadValidator {
  private WorkloadValidator() {}

  /** The errors of a VirtualServer, and the pool it resolves to when there are none. */
  public record Result(List<FieldError> errors, Optional<CapacityPool> pool) {
    public boolean valid() {
      return errors.isEmpty();
    }

    /**
     * The errors that count for a workload already admitted to a pool: the pool its spec resolves
     * to now (another default, or none) does not, since it keeps the pool it was admitted to.
     */
    public List<FieldError> errorsWhenPinned(boolean pinned) {
      return pinned
          ? errors.stream().filter(error -> !error.path().equals("spec.pool")).toList()
          : errors;
    }
  }

  public static Result validate(VirtualServer server, Catalog inventory) {
    List<FieldError> errors = new ArrayList<>();
    var spec = server.getSpec();
    String namespace = server.getMetadata().getNamespace();
    var type = inventory.instanceType(spec.instanceType());
    if (type.isPresent()) {
      try {
        // A type stored before the schema capped its memory is refused, never wrapped.
        PoolModels.instanceBytes(type.get().getSpec().memory());
      } catch (IllegalArgumentException e) {
        errors.add(
            new FieldError(
                "spec.instanceType",
                "InstanceType \"" + spec.instanceType() + "\" has " + e.getMessage()));
      }
    } else {
      errors.add(
          new FieldError(
              "spec.instanceType",
              "InstanceType \""
                  + spec.instanceType()
                  + "\" does not exist; available: "
                  + String.join(
                      ", ",
                      inventory.instanceTypes().stream()
                          .map(InstanceType::getMetadata)
                          .map(m -> m.getName())
                          .sorted()
                          .toList())));
    }
    if (spec.keyName() != null && inventory.keyPair(namespace, spec.keyName()).isEmpty()) {
      errors.add(
          new FieldError(
              "spec.keyName",
              "KeyPair \"" + spec.keyName() + "\" does not exist in namespace " + namespace));
    }
    checkSecurityGroups(spec.securityGroups(), namespace, "spec.securityGroups", inventory, errors);
    Optional<CapacityPool> pool =
        resolvePool(spec.pool(), WorkloadKind.VirtualServer, "spec.pool", inventory, errors);
    return new Result(List.copyOf(errors), errors.isEmpty() ? pool : Optional.empty());
  }

  /**
   * The errors of the references an update of a VirtualServer introduces: a new key pair or new
   * security groups must exist; those named before may have vanished since.
   */
  public static List<FieldError> introducedReferences(
      VirtualServer old, VirtualServer server, Catalog inventory) {
    List<FieldError> errors = new ArrayList<>();
    var spec = server.getSpec();
    String namespace = server.getMetadata().getNamespace();
    if (spec.keyName() != null
        && !spec.keyName().equals(old.getSpec().keyName())
        && inventory.keyPair(namespace, spec.keyName()).isEmpty()) {
      errors.add(
          new FieldError(
              "spec.keyName",
              "KeyPair \"" + spec.keyName() + "\" does not exist in namespace " + namespace));
    }
    List<String> before = Objects.requireNonNullElse(old.getSpec().securityGroups(), List.of());
    List<String> groups = Objects.requireNonNullElse(spec.securityGroups(), List.of());
    for (int i = 0; i < groups.size(); i++) {
      if (!before.contains(groups.get(i))
          && !inventory.hasSecurityGroup(namespace, groups.get(i))) {
        errors.add(missingGroup("spec.securityGroups", i, groups.get(i), namespace));
      }
    }
    return List.copyOf(errors);
  }

  public static Result validate(ContainerTask task, Catalog inventory) {
    List<FieldError> errors = new ArrayList<>();
    var spec = task.getSpec();
    String namespace = task.getMetadata().getNamespace();
    if (spec.taskDefinitionRef() != null && inventory.taskDefinition(task).isEmpty()) {
      errors.add(
          new FieldError(
              "spec.taskDefinitionRef",
              "task definition "
                  + spec.taskDefinitionRef()
                  + " is not registered in namespace "
                  + namespace
                  + " (kubectl get taskdef -n "
                  + namespace
                  + " lists those that are)"));
    }
    if (spec.networkConfiguration() != null
        && spec.networkConfiguration().awsvpcConfiguration() != null) {
      checkSecurityGroups(
          spec.networkConfiguration().awsvpcConfiguration().securityGroups(),
          namespace,
          "spec.networkConfiguration.awsvpcConfiguration.securityGroups",
          inventory,
          errors);
    }
    Optional<CapacityPool> pool =
        resolvePool(spec.cluster(), WorkloadKind.ContainerTask, "spec.cluster", inventory, errors);
    return new Result(List.copyOf(errors), errors.isEmpty() ? pool : Optional.empty());
  }

  private static void checkSecurityGroups(
      List<String> groups,
      String namespace,
      String path,
      Catalog inventory,
      List<FieldError> errors) {
    if (groups == null) {
      return;
    }
    for (int i = 0; i < groups.size(); i++) {
      if (!inventory.hasSecurityGroup(namespace, groups.get(i))) {
        errors.add(missingGroup(path, i, groups.get(i), namespace));
      }
    }
  }

  private static FieldError missingGroup(String path, int index, String group, String namespace) {
    return new FieldError(
        path + "[" + index + "]",
        "SecurityGroup \"" + group + "\" does not exist in namespace " + namespace);
  }

  /**
   * The named pool if it exists and serves the kind; without a name, the one pool that is the
   * kind's default.
   */
  public static Optional<CapacityPool> resolvePool(
      String name, WorkloadKind kind, String path, Catalog inventory, List<FieldError> errors) {
    if (name != null) {
      Optional<CapacityPool> pool = inventory.pool(name);
      if (pool.isEmpty()) {
        errors.add(new FieldError(path, "CapacityPool \"" + name + "\" does not exist"));
      } else if (!pool.get().getSpec().serves().contains(kind)) {
        errors.add(
            new FieldError(
                path,
                "CapacityPool \""
                    + name
                    + "\" does not serve "
                    + kind
                    + "s (its spec.serves is "
                    + pool.get().getSpec().serves()
                    + ")"));
        return Optional.empty();
      }
      return pool;
    }
    List<CapacityPool> defaults =
        inventory.pools().stream()
            .filter(
                p -> p.getSpec().defaultFor() != null && p.getSpec().defaultFor().contains(kind))
            .filter(p -> p.getSpec().serves().contains(kind))
            .toList();
    if (defaults.size() == 1) {
      return Optional.of(defaults.get(0));
    }
    errors.add(
        new FieldError(
            path,
            defaults.isEmpty()
                ? "no CapacityPool is the default for " + kind + "s; name one here"
                : "several CapacityPools are the default for "
                    + kind
                    + "s ("
                    + String.join(
                        ", ",
                        defaults.stream().map(p -> p.getMetadata().getName()).sorted().toList())
                    + "); name one here or make only one the default"));
    return Optional.empty();
  }
}
