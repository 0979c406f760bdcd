package dev.nimbus.virtualserver;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.capacitypool.PoolModels;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.Links;
import dev.nimbus.workload.OwnedSecrets;
import dev.nimbus.workload.Writes;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The VirtualMachines of a VirtualServer and the Secrets they read, brought to what its reservation
 * grants: one VM per admitted instance ({@link ServerVm#desired} builds it), halted when the server
 * is stopped, deleted past the admitted count, restarted when its size or node changed. It writes,
 * and decides nothing about capacity: the reservation it is given is already the stored spec's.
 */
@ApplicationScoped
public class ServerVms {
  private final KubernetesClient client;
  private final KubernetesSerialization json;
  private final Inventory inventory;
  private final EventRecorder events;

  public ServerVms(KubernetesClient client, Inventory inventory, EventRecorder events) {
    this.client = client;
    this.json = client.getKubernetesSerialization();
    this.inventory = inventory;
    this.events = events;
  }

  /**
   * Brings the VMs to what the ledger entry grants, and returns them by index. Stopped: every VM
   * halts and stays. Running but not admitted: nothing is touched (the status says why). VMs are
   * sized as the reservation holds them, never from the InstanceType as it is now. While a
   * reference is gone ({@code canBuild} false) no VM is created or rewritten, but a scale down or a
   * stop still takes effect.
   */
  public Applied apply(
      VirtualServer server,
      CapacityPool pool,
      LedgerEntry entry,
      Map<Integer, VirtualMachine> current,
      boolean canBuild) {
    Map<Integer, VirtualMachine> vms = new LinkedHashMap<>(current);
    if (Boolean.FALSE.equals(server.getSpec().running())) {
      halt(server, vms);
      return new Applied(vms, null, false);
    }
    if (entry == null) {
      return new Applied(vms, null, false);
    }
    Applied built = canBuild ? buildVms(server, pool, entry, vms) : new Applied(vms, null, false);
    terminateBeyond(server, entry.count(), vms);
    return built;
  }

  /**
   * The VMs by index after {@link #apply}; the name of a Secret held by another owner ("" once
   * Nimbus wrote its Secrets; null when no VM needed them); whether an instance's VM name is held
   * by a VM that is not the server's (the instance waits: look again later).
   */
  public record Applied(
      Map<Integer, VirtualMachine> vms, String secretNameTaken, boolean vmNameTaken) {}

  /**
   * Creates or rewrites the VM of each admitted instance whose spec or inputs changed, once its
   * Secrets are written.
   */
  private Applied buildVms(
      VirtualServer server,
      CapacityPool pool,
      LedgerEntry entry,
      Map<Integer, VirtualMachine> vms) {
    String publicKey =
        server.getSpec().keyName() == null
            ? null
            : inventory
                .keyPair(server.getMetadata().getNamespace(), server.getSpec().keyName())
                .map(k -> k.getSpec().publicKey())
                .orElse(null);
    String secretNameTaken = null;
    boolean nameTaken = false;
    boolean secretsApplied = false;
    boolean started = false;
    for (int index = 0; index < entry.count(); index++) {
      var node = inventory.node(entry.placements().get(index).node());
      if (node.isEmpty()) {
        continue; // the node left the cluster; the instance stays pending
      }
      VirtualMachine desired =
          ServerVm.desired(
              server,
              index,
              entry.placements().get(index),
              PoolModels.node(pool.getSpec(), node.get()));
      // The template is written out once, for both digests.
      String templateDigest = ServerVm.templateDigest(desired.getSpec().template);
      String digest =
          Names.digest(
              templateDigest,
              desired.getSpec().runStrategy,
              json.asJson(desired.getMetadata().getLabels()),
              server.getSpec().userData(),
              publicKey);
      desired.getMetadata().setAnnotations(Map.of(Names.SPEC_DIGEST_ANNOTATION, digest));
      VirtualMachine existing = vms.get(index);
      boolean writtenAsDesired =
          existing != null && digest.equals(annotation(existing, Names.SPEC_DIGEST_ANNOTATION));
      boolean runsAsDesired =
          existing != null
              && Objects.equals(existing.getSpec().runStrategy, desired.getSpec().runStrategy);
      boolean templateAsWritten =
          existing != null && templateDigest.equals(observedTemplateDigest(existing));
      if (writtenAsDesired && runsAsDesired && templateAsWritten) {
        continue;
      }
      if (!secretsApplied) {
        secretNameTaken = applySecrets(server, publicKey, existing).orElse("");
        secretsApplied = true;
      }
      if (!secretNameTaken.isEmpty()) {
        break; // no VM reads a Secret that Nimbus did not write
      }
      if (existing == null) {
        Optional<VirtualMachine> adopted = Writes.createOrAdopt(client, desired);
        if (adopted.isEmpty()) {
          nameTaken = true;
          events.warning(
              server,
              Reason.NameTaken,
              Writes.nameTaken(desired, "instance " + Names.instanceId(uid(server), index)));
          continue;
        }
        VirtualMachine created = adopted.get();
        vms.put(index, created);
        events.normal(
            server,
            Reason.InstanceCreated,
            "created VirtualMachine "
                + created.getMetadata().getName()
                + " for instance "
                + Names.instanceId(uid(server), index)
                + " on node "
                + node.get().getMetadata().getName());
      } else {
        if (!writtenAsDesired) {
          started |= VirtualMachine.RUN_HALTED.equals(existing.getSpec().runStrategy);
        }
        if (writtenAsDesired && !runsAsDesired) {
          // The run strategy changed, by someone else (virtctl stop or start): the VirtualServer
          // says whether its instances run.
          events.warning(
              server,
              Reason.InstanceStateRestored,
              "VirtualMachine "
                  + existing.getMetadata().getName()
                  + " was set to runStrategy "
                  + existing.getSpec().runStrategy
                  + " outside its VirtualServer; set back to "
                  + desired.getSpec().runStrategy
                  + " (stop or start the server with spec.running)");
        }
        if (writtenAsDesired && !templateAsWritten) {
          // The template changed, by someone else: an instance runs with the size, on the node
          // and with the labels of its reservation, or a tenant could take capacity it was never
          // admitted for.
          events.warning(
              server,
              Reason.InstanceSpecRestored,
              "VirtualMachine "
                  + existing.getMetadata().getName()
                  + "'s template was changed outside its VirtualServer; set back to what its"
                  + " reservation holds (resize with spec.instanceType, restart with"
                  + " spec.restartedAt)");
        }
        // Read whole: the cache keeps of a VM only what Nimbus compares, and a rewrite keeps the
        // firmware ids KubeVirt gave the guest at create.
        VirtualMachine next = client.resource(existing).get();
        if (next == null) {
          vms.remove(index); // deleted since the cache saw it; its deletion brings a reconcile
          continue;
        }
        Map<String, Object> firmware = firmware(next);
        next.getSpec().runStrategy = desired.getSpec().runStrategy;
        next.getSpec().template = desired.getSpec().template;
        next.getSpec().template.spec.domain.firmware = firmware;
        next.getMetadata().setLabels(desired.getMetadata().getLabels());
        Map<String, String> annotations =
            new HashMap<>(
                Objects.requireNonNullElse(next.getMetadata().getAnnotations(), Map.of()));
        annotations.put(Names.SPEC_DIGEST_ANNOTATION, digest);
        annotations.remove(Names.OBSERVED_TEMPLATE_DIGEST_ANNOTATION);
        next.getMetadata().setAnnotations(annotations);
        vms.put(index, client.resource(next).update());
      }
    }
    if (started) {
      events.normal(server, Reason.InstancesStarted, "started " + entry.count() + " instance(s)");
    }
    return new Applied(vms, secretNameTaken, nameTaken);
  }

  /** Deletes the VMs of instances past {@code count}: a scale down ends the highest indices. */
  private void terminateBeyond(VirtualServer server, int count, Map<Integer, VirtualMachine> vms) {
    for (var vm : List.copyOf(vms.entrySet())) {
      if (vm.getKey() >= count) {
        terminate(server, vm.getKey(), vm.getValue(), "scaled down to " + count);
      }
    }
  }

  /**
   * Adds to the VMs by index those of the given instances that the API server stores and the cache
   * lacks, one read each; returns, by index, the VMs so read that hold an instance's name and are
   * not the server's.
   */
  public Map<Integer, VirtualMachine> readBackVmsTheCacheLacks(
      VirtualServer server, Set<Integer> instances, Map<Integer, VirtualMachine> vms) {
    Map<Integer, VirtualMachine> others = new HashMap<>();
    for (int index : instances) {
      if (vms.containsKey(index)) {
        continue;
      }
      VirtualMachine stored =
          client
              .resources(VirtualMachine.class)
              .inNamespace(server.getMetadata().getNamespace())
              .withName(Names.serverVm(server.getMetadata().getName(), index))
              .get();
      if (stored != null) {
        (Links.isControlledBy(stored, server) ? vms : others).put(index, stored);
      }
    }
    return others;
  }

  /**
   * Deletes the VMIs of a server being deleted that have no VM (one deleted with {@code
   * --cascade=orphan}, which leaves its VMI without an owner): KubeVirt deletes a VMI with its VM,
   * and nothing at all deletes one left without.
   */
  public void deleteVmisWithoutVm(
      Map<Integer, VirtualMachineInstance> vmis, Map<Integer, VirtualMachine> vms) {
    vmis.forEach(
        (index, vmi) -> {
          if (!vms.containsKey(index)
              && Links.controller(vmi).isEmpty()
              && vmi.getMetadata().getDeletionTimestamp() == null) {
            client
                .resources(VirtualMachineInstance.class)
                .inNamespace(vmi.getMetadata().getNamespace())
                .withName(vmi.getMetadata().getName())
                .delete();
          }
        });
  }

  /**
   * Deletes the VMs of a server being deleted; each ends as a scale down ends one, with its Event.
   */
  public void terminateAll(VirtualServer server, Map<Integer, VirtualMachine> vms) {
    vms.forEach((index, vm) -> terminate(server, index, vm, "the VirtualServer was deleted"));
  }

  /**
   * Deletes the VM of instance {@code index}, once, and records an Event that names the instance's
   * id: the only trace an ended instance leaves, which is how EC2's DescribeInstances shows
   * terminated instances for as long as the API server keeps Events (an hour by default).
   */
  private void terminate(VirtualServer server, int index, VirtualMachine vm, String why) {
    if (vm.getMetadata().getDeletionTimestamp() != null) {
      return;
    }
    client.resource(vm).delete();
    String instanceId = Names.instanceId(uid(server), index);
    events.normal(
        server,
        Reason.InstanceTerminated,
        "terminated instance "
            + instanceId
            + " (VirtualMachine "
            + vm.getMetadata().getName()
            + "): "
            + why,
        Map.of(Names.INSTANCE_ID_ANNOTATION, instanceId));
  }

  private void halt(VirtualServer server, Map<Integer, VirtualMachine> vms) {
    int halted = 0;
    for (var entry : vms.entrySet()) {
      VirtualMachine vm = entry.getValue();
      if (VirtualMachine.RUN_HALTED.equals(vm.getSpec().runStrategy)
          || vm.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      // A patch, not the VM written back: the cache keeps of a VM only what Nimbus reads. The
      // resourceVersion makes it refused if the VM changed since it was read, as an update would
      // be. Dropping the digest makes a start rebuild the VM from the spec, whatever it said.
      String patch =
          "{\"metadata\":{\"resourceVersion\":%s,\"annotations\":{%s:null}},\"spec\":{\"runStrategy\":%s}}"
              .formatted(
                  json.asJson(vm.getMetadata().getResourceVersion()),
                  json.asJson(Names.SPEC_DIGEST_ANNOTATION),
                  json.asJson(VirtualMachine.RUN_HALTED));
      entry.setValue(
          client
              .resources(VirtualMachine.class)
              .inNamespace(vm.getMetadata().getNamespace())
              .withName(vm.getMetadata().getName())
              .patch(PatchContext.of(PatchType.JSON_MERGE), patch));
      halted++;
    }
    if (halted > 0) {
      events.normal(server, Reason.InstancesStopped, "stopped " + halted + " instance(s)");
    }
  }

  /**
   * A VMI started from an older size or placement than its VM's is restarted with the new one; one
   * started before the latest restart its server was asked for is restarted.
   */
  public void restartChanged(
      VirtualServer server,
      Map<Integer, VirtualMachine> vms,
      Map<Integer, VirtualMachineInstance> vmis) {
    for (var entry : vmis.entrySet()) {
      VirtualMachine vm = vms.get(entry.getKey());
      VirtualMachineInstance vmi = entry.getValue();
      if (vm == null
          || vm.getSpec().template == null
          || vm.getSpec().template.metadata == null
          || !VirtualMachine.RUN_ALWAYS.equals(vm.getSpec().runStrategy)
          || vmi.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      var templateAnnotations =
          Objects.requireNonNullElse(
              vm.getSpec().template.metadata.getAnnotations(), Map.<String, String>of());
      String wanted = templateAnnotations.get(Names.PLACEMENT_ANNOTATION);
      String running = annotation(vmi, Names.PLACEMENT_ANNOTATION);
      String restartWanted = templateAnnotations.get(Names.RESTARTED_AT_ANNOTATION);
      String restarted = annotation(vmi, Names.RESTARTED_AT_ANNOTATION);
      String instanceId = Names.instanceId(uid(server), entry.getKey());
      if (wanted != null && !wanted.equals(running)) {
        client.resource(vmi).delete();
        events.normal(
            server,
            Reason.InstanceResized,
            "restarting instance " + instanceId + " as " + wanted + " (was " + running + ")");
      } else if (restartWanted != null && !restartWanted.equals(restarted)) {
        client.resource(vmi).delete();
        events.normal(
            server,
            Reason.InstanceRestarted,
            "restarting instance " + instanceId + ", as asked at " + restartWanted);
      }
    }
  }

  /**
   * Writes the user data and public key Secrets, or deletes those a VM no longer uses, and returns
   * the name of one that exists but is not the server's (then nothing is written to it). The
   * operator may write Secrets in workload namespaces but never reads them.
   */
  private Optional<String> applySecrets(
      VirtualServer server, String publicKey, VirtualMachine previous) {
    String name = server.getMetadata().getName();
    String namespace = server.getMetadata().getNamespace();
    // A Secret is deleted only where a VM was built with it, so a first create costs no deletes.
    String previousJson = previous == null ? "" : json.asJson(previous.getSpec());
    if (server.getSpec().userData() != null) {
      if (!OwnedSecrets.write(client, ServerSecrets.userData(server), server)) {
        return Optional.of(Names.userDataSecret(name));
      }
    } else if (previousJson.contains(Names.userDataSecret(name))) {
      client.secrets().inNamespace(namespace).withName(Names.userDataSecret(name)).delete();
    }
    Optional<KeyPair> keyPair =
        server.getSpec().keyName() == null || publicKey == null
            ? Optional.empty()
            : inventory.keyPair(namespace, server.getSpec().keyName());
    if (keyPair.isPresent()) {
      if (!OwnedSecrets.write(client, ServerSecrets.sshKey(server, keyPair.get()), server)) {
        return Optional.of(Names.sshKeySecret(name));
      }
    } else if (previousJson.contains(Names.sshKeySecret(name))) {
      client.secrets().inNamespace(namespace).withName(Names.sshKeySecret(name)).delete();
    }
    return Optional.empty();
  }

  /**
   * The digest of the template {@code vm} has: as the cache keeps it, or of the template itself on
   * a VM read whole.
   */
  private static String observedTemplateDigest(VirtualMachine vm) {
    String kept = annotation(vm, Names.OBSERVED_TEMPLATE_DIGEST_ANNOTATION);
    return kept != null ? kept : ServerVm.templateDigest(vm.getSpec().template);
  }

  private static Map<String, Object> firmware(VirtualMachine vm) {
    var template = vm.getSpec() == null ? null : vm.getSpec().template;
    return template == null || template.spec == null || template.spec.domain == null
        ? null
        : template.spec.domain.firmware;
  }

  private static String annotation(HasMetadata object, String key) {
    var annotations = object.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(key);
  }

  private static String uid(VirtualServer server) {
    return server.getMetadata().getUid();
  }
}
