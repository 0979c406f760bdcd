package dev.nimbus.workload;

import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.conditions.Conditions;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The step both workload controllers share: the NetworkPolicy of the security groups a workload
 * names, brought to what the groups say now, and the {@code SecurityGroupsEnforced} condition that
 * tells whether it is. A policy of the same name that Nimbus did not create for this workload (no
 * controller reference to it) is never adopted, changed or deleted, whatever its labels say.
 */
public final class SecurityGroupPolicy {
  /** The condition a workload that names security groups carries. */
  public static final String CONDITION = "SecurityGroupsEnforced";

  private SecurityGroupPolicy() {}

  /** What became of a workload's policy. */
  public enum Outcome {
    /** The workload names no group, and has no policy. */
    NONE,
    /** The policy holds the rules of every group the workload names. */
    ENFORCED,
    /** Another object holds the policy's name; nothing enforces the groups. */
    NAME_TAKEN
  }

  /**
   * Brings the policy {@code name} of {@code owner} to the rules of {@code groups} (names in the
   * owner's namespace, looked up by {@code groupNamed}; a group that does not exist allows nothing)
   * for the pods {@code podLabels} select. {@code cached} is the policy as the controller's cache
   * has it, if it has it.
   */
  public static Outcome apply(
      KubernetesClient client,
      Function<String, Optional<SecurityGroup>> groupNamed,
      HasMetadata owner,
      String name,
      Map<String, String> podLabels,
      List<String> groups,
      Optional<NetworkPolicy> cached) {
    if (groups.isEmpty()) {
      cached
          .filter(policy -> Links.isControlledBy(policy, owner))
          .ifPresent(p -> delete(client, p));
      return Outcome.NONE;
    }
    NetworkPolicy desired =
        Firewall.desired(
            owner,
            name,
            podLabels,
            groups.stream().map(groupNamed).flatMap(Optional::stream).toList());
    NetworkPolicy stored = cached.orElse(null);
    if (stored == null) {
      try {
        client.resource(desired).create();
        return Outcome.ENFORCED;
      } catch (KubernetesClientException e) {
        if (Writes.namespaceTerminating(e)) {
          return Outcome.NONE; // the namespace takes the workload with it
        }
        if (e.getCode() != 409) {
          throw e;
        }
        // Created by an earlier reconcile the cache has not seen yet, or someone else's.
        stored = client.resource(desired).get();
        if (stored == null) {
          return Outcome.ENFORCED; // deleted meanwhile: the delete event brings a new create
        }
      }
    }
    if (!Links.isControlledBy(stored, owner)) {
      return Outcome.NAME_TAKEN;
    }
    // The annotations carry the spec's digest: the wanted one in desired, the one the policy has
    // in a cached policy (whose spec the cache drops) or computed here from one just read.
    if (!Objects.equals(stored.getMetadata().getLabels(), desired.getMetadata().getLabels())
        || !Objects.equals(
            Firewall.observedAnnotations(stored), desired.getMetadata().getAnnotations())) {
      NetworkPolicy next = client.getKubernetesSerialization().clone(stored);
      next.setSpec(desired.getSpec());
      next.getMetadata().setLabels(desired.getMetadata().getLabels());
      next.getMetadata().setAnnotations(desired.getMetadata().getAnnotations());
      // With the read resourceVersion: a concurrent change makes this fail and retry on new data.
      client.resource(next).update();
    }
    return Outcome.ENFORCED;
  }

  /** {@code conditions} with {@link #CONDITION} telling {@code outcome}, or without it (NONE). */
  public static List<Condition> condition(
      List<Condition> conditions, Outcome outcome, String policyName, Long generation) {
    return switch (outcome) {
      case NONE -> Conditions.remove(conditions, CONDITION);
      case ENFORCED ->
          Conditions.set(
              conditions,
              CONDITION,
              true,
              "Enforced",
              "NetworkPolicy " + policyName + " holds the rules of the named security groups",
              generation);
      case NAME_TAKEN ->
          Conditions.set(
              conditions,
              CONDITION,
              false,
              "PolicyNameTaken",
              "NetworkPolicy "
                  + policyName
                  + " exists but was not created by Nimbus for this workload; Nimbus leaves it"
                  + " alone, so the security groups are not enforced until it is renamed or"
                  + " deleted",
              generation);
    };
  }

  /**
   * The workloads among {@code workloads} that name {@code group}: a change of its rules reaches
   * each of their policies.
   */
  public static <W extends HasMetadata> Set<ResourceID> workloadsNaming(
      SecurityGroup group, Stream<W> workloads, Function<W, List<String>> groupsOf) {
    return workloads
        .filter(workload -> groupsOf.apply(workload).contains(group.getMetadata().getName()))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  /**
   * The groups of {@code namespace} by name, as the controller's own SecurityGroup event source
   * {@code source} has them: the one whose events trigger the reconcile, so a deleted group is
   * already gone from it.
   */
  @SuppressWarnings("unchecked")
  public static <P extends HasMetadata> Function<String, Optional<SecurityGroup>> groupsIn(
      Context<P> context, String source, String namespace) {
    var groups =
        (InformerEventSource<SecurityGroup, P>)
            context.eventSourceRetriever().getEventSourceFor(SecurityGroup.class, source);
    return name -> groups.get(new ResourceID(name, namespace));
  }

  private static void delete(KubernetesClient client, NetworkPolicy policy) {
    client.resource(policy).delete();
  }
}
