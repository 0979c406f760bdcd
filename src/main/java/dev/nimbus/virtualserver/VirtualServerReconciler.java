package dev.nimbus.virtualserver;

import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerStatus;
import dev.nimbus.capacitypool.Demands;
import dev.nimbus.conditions.Conditions;
import dev.nimbus.conditions.StatusPatch;
import dev.nimbus.config.NamespacedReconciler;
import dev.nimbus.config.NimbusConfig;
import dev.nimbus.config.Retries;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.events.EventRecorder;
import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.inventory.SlimItemStore;
import dev.nimbus.kubevirt.VirtualMachine;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.metrics.NimbusMetrics;
import dev.nimbus.naming.Names;
import dev.nimbus.validation.WorkloadValidator;
import dev.nimbus.workload.AdmittedPool;
import dev.nimbus.workload.Links;
import dev.nimbus.workload.LostNodes;
import dev.nimbus.workload.LostShards;
import dev.nimbus.workload.PagedLists;
import dev.nimbus.workload.PendingReservations;
import dev.nimbus.workload.Readmission;
import dev.nimbus.workload.Readmission.Restored;
import dev.nimbus.workload.Releases;
import dev.nimbus.workload.SecurityGroupPolicy;
import dev.nimbus.workload.Writes;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;
import org.jboss.logging.Logger;

/**
 * Runs the instances that admission granted a VirtualServer: one KubeVirt VirtualMachine per
 * placement of its ledger entry, pinned to the node the ledger chose, with its user data and SSH
 * key in Secrets and its security groups in a NetworkPolicy. Stopping halts the VMs and keeps them
 * (their ids stay); a scale down deletes the highest indices; a new instance type restarts each
 * instance with its new size. Deletion removes the VMs, waits until they are gone and then returns
 * the capacity to the pool.
 *
 * <p>KubeVirt's types are watched only once the cluster serves them: without KubeVirt the
 * VirtualServer says so in its status, and the reconciler asks again later instead of failing.
 */
@GradualRetry(maxAttempts = Retries.FOREVER, maxInterval = Retries.MAX_INTERVAL_MILLIS)
// The primary cache keeps no managedFields: every replica holds every workload, warm for a
// failover.
@ControllerConfiguration(
    name = "virtualserver",
    finalizerName = Names.SERVER_FINALIZER,
    informer =
        @Informer(informerListLimit = PagedLists.INFORMER_PAGE, itemStore = SlimItemStore.class))
public class VirtualServerReconciler
    implements NamespacedReconciler<VirtualServer>, Cleaner<VirtualServer> {
  private static final Logger LOG = Logger.getLogger(VirtualServerReconciler.class);
  static final String VM_SOURCE = "virtualmachines";
  static final String VMI_SOURCE = "virtualmachineinstances";
  static final String GROUP_SOURCE = "securitygroups";
  static final Duration KUBEVIRT_RECHECK = Duration.ofSeconds(15);
  static final Duration DELETION_RECHECK = Duration.ofSeconds(2);

  private final KubernetesClient client;
  private final LedgerStore ledgers;
  // By server UID, for deletions of a generation no reconcile observed: see instancesHeld.
  private final Map<String, HeldAt> heldAsStored = new ConcurrentHashMap<>();
  private final Inventory inventory;
  private final KubeVirtAvailability kubeVirt;
  private final ServerReservations reservations;
  private final ServerVms serverVms;
  private final Releases releases;
  private final EventRecorder events;
  private final NimbusMetrics metrics;
  private final Readmission readmission;
  private final NimbusConfig config;
  private final WatchedNamespaces watched;

  /** Whether the VirtualMachine and VMI sources are registered (once KubeVirt's CRDs exist). */
  private volatile boolean watchingKubeVirt;

  public VirtualServerReconciler(
      KubernetesClient client,
      LedgerStore ledgers,
      Inventory inventory,
      KubeVirtAvailability kubeVirt,
      ServerReservations reservations,
      ServerVms serverVms,
      Releases releases,
      EventRecorder events,
      NimbusMetrics metrics,
      Readmission readmission,
      NimbusConfig config,
      WatchedNamespaces watched) {
    this.watched = watched;
    this.readmission = readmission;
    this.config = config;
    this.client = client;
    this.ledgers = ledgers;
    this.inventory = inventory;
    this.kubeVirt = kubeVirt;
    this.reservations = reservations;
    this.serverVms = serverVms;
    this.releases = releases;
    this.events = events;
    this.metrics = metrics;
  }

  @Override
  public WatchedNamespaces watchedNamespaces() {
    return watched;
  }

  @Override
  public List<EventSource<?, VirtualServer>> prepareEventSources(
      EventSourceContext<VirtualServer> context) {
    var policies =
        InformerEventSourceConfiguration.from(NetworkPolicy.class, VirtualServer.class)
            .withLabelSelector(Names.VIRTUAL_SERVER_LABEL)
            .withSecondaryToPrimaryMapper(VirtualServerReconciler::byServerLabel)
            .withItemStore(new SlimItemStore<>())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .build();
    // A change of a group's rules reaches the policies of every VirtualServer that names it.
    var groups =
        InformerEventSourceConfiguration.from(SecurityGroup.class, VirtualServer.class)
            .withName(GROUP_SOURCE)
            .withSecondaryToPrimaryMapper(
                group ->
                    SecurityGroupPolicy.workloadsNaming(
                        group,
                        context.getPrimaryCache().list(group.getMetadata().getNamespace()),
                        VirtualServerReconciler::securityGroups))
            .withItemStore(new SlimItemStore<>())
            .withInformerListLimit(PagedLists.INFORMER_PAGE)
            .build();
    return List.of(
        new InformerEventSource<>(policies, context),
        new InformerEventSource<>(groups, context),
        new PendingReservations<>(VirtualServer.class, ledgers, context),
        // A node that goes moves the instances on it; only its deletion matters here.
        LostNodes.source(
            VirtualServer.class,
            context,
            (node, server) ->
                server.getStatus() != null
                    && server.getStatus().instances() != null
                    && server.getStatus().instances().stream()
                        .anyMatch(
                            instance -> node.getMetadata().getName().equals(instance.node()))));
  }

  private static List<String> securityGroups(VirtualServer server) {
    return Objects.requireNonNullElse(server.getSpec().securityGroups(), List.of());
  }

  private static Set<ResourceID> byServerLabel(HasMetadata object) {
    String server = object.getMetadata().getLabels().get(Names.VIRTUAL_SERVER_LABEL);
    return server == null
        ? Set.of()
        : Set.of(new ResourceID(server, object.getMetadata().getNamespace()));
  }

  @Override
  public UpdateControl<VirtualServer> reconcile(
      VirtualServer server, Context<VirtualServer> context) {
    // The pool even while another reference is gone: scale downs and stops still take effect.
    Optional<CapacityPool> pool = admittedPool(server);
    // The pool a server was admitted to stays its pool, default or not.
    var errors = WorkloadValidator.validate(server, inventory).errorsWhenPinned(pool.isPresent());
    String invalid =
        errors.isEmpty()
            ? null
            : String.join("; ", errors.stream().map(Objects::toString).toList());
    if (pool.isPresent()
        && LostShards.onLost(ledgers, pool.get().getMetadata().getName(), statusNodes(server))) {
      LOG.debugf(
          "VirtualServer %s/%s waits: a node it runs on lost its ledger shard",
          server.getMetadata().getNamespace(), server.getMetadata().getName());
      return UpdateControl.<VirtualServer>noUpdate().rescheduleAfter(LostShards.RECHECK);
    }
    boolean withKubeVirt = kubeVirt.available();
    // As this replica's watch shows it: a reservation it has not shown yet is looked for as stored
    // only where one would be made (readmit), not at every reconcile of every server that holds
    // none.
    LedgerEntry entry =
        pool.map(p -> ledgers.recent(p.getMetadata().getName()).entry(uid(server))).orElse(null);
    Map<Integer, VirtualMachine> vms = new HashMap<>();
    Map<Integer, VirtualMachineInstance> vmis = new HashMap<>();
    // Even with a reference gone: a deleted group's rules must stop allowing traffic at once.
    SecurityGroupPolicy.Outcome securityGroups = applySecurityGroups(server, context);
    // The name of a Secret that another owner holds; "" once Nimbus wrote its Secrets.
    String secretNameTaken = null;
    Optional<Duration> recheck = Optional.empty();
    if (withKubeVirt) {
      watchKubeVirt(context);
      vms = ownVms(server, context);
      vmis =
          withoutVmisOf(
              otherVms(server, context),
              byIndex(server, context.getSecondaryResources(VirtualMachineInstance.class)));
      if (pool.isPresent()) {
        Optional<Duration> waitsForLedger = Optional.empty();
        if (entry == null && invalid == null && wantsInstances(server)) {
          Set<Integer> live = live(server, vms, vmis);
          if (live.isEmpty()) {
            entry = readmit(server, pool.get()).orElse(null);
            if (entry == null) {
              waitsForLedger = Optional.of(Readmission.RECHECK);
            }
          } else {
            Restored restored = restore(server, pool.get(), live, vms, vmis);
            entry = restored.entry();
            if (restored.waits()) {
              // A lost shard's rebuild comes first.
              waitsForLedger = Optional.of(LostShards.RECHECK);
            }
          }
        }
        // What runs follows the stored spec, never a reservation it does not match.
        var reservation =
            reservations.reconcile(
                server, pool.get(), entry, live(server, vms, vmis), LostNodes.exists(context));
        entry = reservation.entry();
        recheck = reservation.recheck().isPresent() ? reservation.recheck() : waitsForLedger;
        if (!reservation.hold()) {
          var applied = serverVms.apply(server, pool.get(), entry, vms, invalid == null);
          vms = applied.vms();
          secretNameTaken = applied.secretNameTaken();
          if (applied.vmNameTaken() && recheck.isEmpty()) {
            recheck = Optional.of(Writes.NAME_TAKEN_RECHECK); // freeing a name brings no event
          }
          serverVms.restartChanged(server, vms, vmis);
        }
      }
    } else {
      LOG.debugf(
          "VirtualServer %s/%s waits for KubeVirt",
          server.getMetadata().getNamespace(), server.getMetadata().getName());
    }
    VirtualServerStatus status =
        ServerStatuses.of(
            server,
            new ServerStatuses.Observed(
                pool.map(p -> p.getMetadata().getName()).orElse(null),
                invalid,
                withKubeVirt,
                entry,
                vms,
                vmis,
                securityGroups,
                secretNameTaken));
    recordTransitions(server, status);
    UpdateControl<VirtualServer> control =
        StatusPatch.ifChanged(server, status, VirtualServer::new);
    return withKubeVirt
        ? recheck.map(control::rescheduleAfter).orElse(control)
        : control.rescheduleAfter(KUBEVIRT_RECHECK);
  }

  /**
   * A reservation made again where a server's instances run while it holds none; see {@link
   * Readmission#restore}. Empty, and logged, where that cannot be told: an instance's node is not
   * known (a VMI's node, else the node its VM is pinned to) for every instance 0 to n - 1 (a
   * reservation of fewer would stop the others), or its InstanceType is gone.
   */
  private Restored restore(
      VirtualServer server,
      CapacityPool pool,
      Set<Integer> live,
      Map<Integer, VirtualMachine> vms,
      Map<Integer, VirtualMachineInstance> vmis) {
    List<String> nodes = new ArrayList<>();
    for (int index = 0; index < live.size(); index++) {
      Optional<String> node =
          live.contains(index) ? nodeOf(vmis.get(index), vms.get(index)) : Optional.empty();
      if (node.isEmpty()) {
        return Restored.notKnown(server, "where instance " + index + " of " + live + " runs");
      }
      nodes.add(node.get());
    }
    var type = inventory.instanceType(server.getSpec().instanceType());
    if (type.isEmpty()) {
      return Restored.notKnown(server, "the size of its instances (its InstanceType is gone)");
    }
    return Restored.as(
        readmission.restore(
            server,
            pool,
            Demands.of(server, type.get()),
            Objects.requireNonNullElse(server.getSpec().maxCount(), 1),
            nodes));
  }

  /** Where an instance runs: its VMI's node, else the node its VM is pinned to. */
  private static Optional<String> nodeOf(VirtualMachineInstance vmi, VirtualMachine vm) {
    if (vmi != null && vmi.getStatus() != null && vmi.getStatus().nodeName != null) {
      return Optional.of(vmi.getStatus().nodeName);
    }
    return Optional.ofNullable(vm).flatMap(ServerVm::pinnedNode);
  }

  private static boolean wantsInstances(VirtualServer server) {
    return !Boolean.FALSE.equals(server.getSpec().running())
        && Objects.requireNonNullElse(server.getSpec().maxCount(), 1) > 0;
  }

  /**
   * A reservation made again for a server that should run and holds none; see {@link Readmission}.
   */
  private Optional<LedgerEntry> readmit(VirtualServer server, CapacityPool pool) {
    return inventory
        .instanceType(server.getSpec().instanceType())
        .flatMap(
            type ->
                readmission.reserve(
                    server,
                    server.getStatus() == null ? null : server.getStatus().conditions(),
                    pool,
                    Demands.of(server, type),
                    Objects.requireNonNullElse(server.getSpec().maxCount(), 1)));
  }

  /** The nodes the server's status shows its instances on. */
  private static List<String> statusNodes(VirtualServer server) {
    return server.getStatus() == null || server.getStatus().instances() == null
        ? List.of()
        : server.getStatus().instances().stream()
            .map(i -> i.node())
            .filter(Objects::nonNull)
            .toList();
  }

  /**
   * The indices of instances that still hold their node: a VMI, or a VM that runs or is not gone
   * yet (a stopped server's halted VMs hold nothing).
   */
  private static Set<Integer> live(
      VirtualServer server,
      Map<Integer, VirtualMachine> vms,
      Map<Integer, VirtualMachineInstance> vmis) {
    Set<Integer> live = new TreeSet<>(vmis.keySet());
    if (!Boolean.FALSE.equals(server.getSpec().running())) {
      live.addAll(vms.keySet());
    }
    return live;
  }

  /**
   * Deletes the VMs, and returns the capacity once no VM or VMI of the server is left: until then
   * their launcher pods may still hold the nodes.
   */
  @Override
  public DeleteControl cleanup(VirtualServer server, Context<VirtualServer> context) {
    if (kubeVirt.available()) {
      watchKubeVirt(context);
      Map<Integer, VirtualMachine> vms = ownVms(server, context);
      Map<Integer, VirtualMachine> others = otherVms(server, context);
      Map<Integer, VirtualMachineInstance> vmis =
          byIndex(server, context.getSecondaryResources(VirtualMachineInstance.class));
      // A VM counts as gone only once the API server no longer has it: the cache may not hold it
      // yet (or any more, if its label was removed), and capacity returned while it is stored would
      // be promised twice. KubeVirt keeps a deleted VM until its VMI is gone.
      Set<Integer> instances = new TreeSet<>(vmis.keySet());
      IntStream.range(0, instancesHeld(server)).forEach(instances::add);
      others.putAll(serverVms.readBackVmsTheCacheLacks(server, instances, vms));
      vmis = withoutVmisOf(others, vmis);
      serverVms.terminateAll(server, vms);
      serverVms.deleteVmisWithoutVm(vmis, vms);
      if (!vms.isEmpty() || !vmis.isEmpty()) {
        return DeleteControl.noFinalizerRemoval().rescheduleAfter(DELETION_RECHECK);
      }
    }
    releases.releaseDeleted(server);
    heldAsStored.remove(uid(server));
    return DeleteControl.defaultDelete();
  }

  /**
   * How many instances the server holds capacity for: the VMs a deletion must see gone. Read as
   * stored once for a generation no reconcile has observed (a deletion bumps the generation, so
   * every deletion's first look does): another replica's webhook may have reserved for it a moment
   * ago, unseen here yet, but any such write landed before the generation was stored. The looks
   * after it, every 2 s until the VMs are gone, add what this replica's watch shows: a list of the
   * pool's shards each time would cost the API server more than the VMs do.
   */
  private int instancesHeld(VirtualServer server) {
    Optional<String> pool = admittedPool(server).map(p -> p.getMetadata().getName());
    String uid = uid(server);
    int held = pool.map(p -> ledgers.recent(p).entry(uid)).map(LedgerEntry::count).orElse(0);
    boolean observed =
        server.getStatus() != null
            && Objects.equals(
                server.getStatus().observedGeneration(), server.getMetadata().getGeneration());
    if (!observed && pool.isPresent()) {
      long generation = server.getMetadata().getGeneration();
      held =
          Math.max(
              held,
              heldAsStored
                  .compute(
                      uid,
                      (key, known) ->
                          known != null && known.generation() == generation
                              ? known
                              : new HeldAt(generation, storedCount(pool.get(), uid)))
                  .count());
    }
    Integer told = server.getStatus() == null ? null : server.getStatus().admittedCount();
    return told == null ? held : Math.max(held, told);
  }

  private int storedCount(String pool, String uid) {
    LedgerEntry stored = ledgers.entry(pool, uid);
    return stored == null ? 0 : stored.count();
  }

  /** What a server's reservation was read to hold as stored, for the generation it was read for. */
  private record HeldAt(long generation, int count) {}

  private Optional<CapacityPool> admittedPool(VirtualServer server) {
    return AdmittedPool.of(
        server,
        server.getSpec().pool(),
        server.getStatus() == null ? null : server.getStatus().pool(),
        WorkloadKind.VirtualServer,
        inventory,
        ledgers);
  }

  /** Registers the VM and VMI event sources once the cluster serves KubeVirt. Idempotent. */
  private void watchKubeVirt(Context<VirtualServer> context) {
    // Registering again is not free: JOSDK starts a registered source again, and its start indexes
    // every VirtualMachine it holds, at every reconcile of every server.
    if (watchingKubeVirt) {
      return;
    }
    synchronized (this) {
      if (!watchingKubeVirt) {
        registerKubeVirtSources(context);
        watchingKubeVirt = true;
      }
    }
  }

  private void registerKubeVirtSources(Context<VirtualServer> context) {
    var retriever = context.eventSourceRetriever();
    var dynamic = retriever.eventSourceContextForDynamicRegistration();
    retriever.dynamicallyRegisterEventSource(
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachine.class, VirtualServer.class)
                .withName(VM_SOURCE)
                .withLabelSelector(Names.VIRTUAL_SERVER_LABEL)
                .withSecondaryToPrimaryMapper(VirtualServerReconciler::byServerLabel)
                .withItemStore(new SlimItemStore<>())
                .withInformerListLimit(PagedLists.INFORMER_PAGE)
                .build(),
            dynamic));
    retriever.dynamicallyRegisterEventSource(
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(VirtualMachineInstance.class, VirtualServer.class)
                .withName(VMI_SOURCE)
                .withLabelSelector(Names.VIRTUAL_SERVER_LABEL)
                .withSecondaryToPrimaryMapper(VirtualServerReconciler::byServerLabel)
                .withItemStore(new SlimItemStore<>())
                .withInformerListLimit(PagedLists.INFORMER_PAGE)
                .build(),
            dynamic));
  }

  /** The NetworkPolicy of the server's security groups, or none when it names none. */
  private SecurityGroupPolicy.Outcome applySecurityGroups(
      VirtualServer server, Context<VirtualServer> context) {
    return SecurityGroupPolicy.apply(
        client,
        SecurityGroupPolicy.groupsIn(context, GROUP_SOURCE, server.getMetadata().getNamespace()),
        server,
        Names.serverNetworkPolicy(server.getMetadata().getName()),
        Map.of(Names.VIRTUAL_SERVER_LABEL, server.getMetadata().getName()),
        securityGroups(server),
        context.getSecondaryResource(NetworkPolicy.class));
  }

  private void recordTransitions(VirtualServer server, VirtualServerStatus next) {
    boolean wasMissing =
        server.getStatus() != null
            && server.getStatus().conditions() != null
            && server.getStatus().conditions().stream()
                .anyMatch(
                    c -> c.getType().equals("KubeVirtUnavailable") && c.getStatus().equals("True"));
    boolean missing =
        next.conditions().stream()
            .anyMatch(
                c -> c.getType().equals("KubeVirtUnavailable") && c.getStatus().equals("True"));
    if (missing && !wasMissing) {
      events.warning(server, Reason.KubeVirtUnavailable, ServerStatuses.KUBEVIRT_MISSING);
    }
    var notAdmitted =
        next.conditions().stream()
            .filter(
                c ->
                    c.getType().equals(Conditions.ADMITTED)
                        && c.getReason().equals(Conditions.NOT_ADMITTED))
            .findFirst();
    boolean wasNotAdmitted =
        server.getStatus() != null
            && server.getStatus().conditions() != null
            && server.getStatus().conditions().stream()
                .anyMatch(
                    c ->
                        c.getType().equals(Conditions.ADMITTED)
                            && c.getReason().equals(Conditions.NOT_ADMITTED));
    if (notAdmitted.isPresent() && !wasNotAdmitted) {
      events.warning(server, Reason.NotAdmitted, notAdmitted.get().getMessage());
    }
    // Time to running counts a server as created: the first Ready of its first generation.
    boolean ready = isTrue(next.conditions(), "Ready");
    boolean wasReady =
        server.getStatus() != null && isTrue(server.getStatus().conditions(), "Ready");
    if (ready && !wasReady && Long.valueOf(1).equals(server.getMetadata().getGeneration())) {
      metrics.timeToRunning(
          "VirtualServer",
          Duration.between(
              Instant.parse(server.getMetadata().getCreationTimestamp()), Instant.now()));
    }
  }

  private static boolean isTrue(List<Condition> conditions, String type) {
    return conditions != null
        && conditions.stream()
            .anyMatch(c -> c.getType().equals(type) && "True".equals(c.getStatus()));
  }

  /**
   * The server's VMs in the cache by instance index: those it controls. A VM that carries its
   * labels and is not its (a tenant's own) is never rewritten, halted or deleted.
   */
  private static Map<Integer, VirtualMachine> ownVms(
      VirtualServer server, Context<VirtualServer> context) {
    Map<Integer, VirtualMachine> vms =
        byIndex(server, context.getSecondaryResources(VirtualMachine.class));
    vms.values().removeIf(vm -> !Links.isControlledBy(vm, server));
    return vms;
  }

  /**
   * The VMs in the cache by instance index that carry the server's labels and an instance's name
   * and are not its own: a tenant's.
   */
  private static Map<Integer, VirtualMachine> otherVms(
      VirtualServer server, Context<VirtualServer> context) {
    Map<Integer, VirtualMachine> vms =
        byIndex(server, context.getSecondaryResources(VirtualMachine.class));
    vms.values().removeIf(vm -> Links.isControlledBy(vm, server));
    return vms;
  }

  /**
   * The VMIs without those that {@code others}, VMs that are not the server's, control. A tenant's
   * VM may give its VMI the server's labels and an instance's name: that VMI is never an instance
   * of the server, neither in its status nor as one a scale down or a deletion waits for. A VMI
   * without a VM (one deleted with {@code --cascade=orphan}) or whose VM is not known to be
   * another's still counts: it may hold a node the server's reservation stands for.
   */
  private static Map<Integer, VirtualMachineInstance> withoutVmisOf(
      Map<Integer, VirtualMachine> others, Map<Integer, VirtualMachineInstance> vmis) {
    vmis.entrySet()
        .removeIf(
            vmi -> {
              VirtualMachine other = others.get(vmi.getKey());
              return other != null
                  && Links.controller(vmi.getValue())
                      .filter(other.getMetadata().getUid()::equals)
                      .isPresent();
            });
    return vmis;
  }

  /** The server's VMs or VMIs in the cache, by the index their names give. */
  private static <T extends HasMetadata> Map<Integer, T> byIndex(
      VirtualServer server, Set<T> objects) {
    Map<Integer, T> byIndex = new HashMap<>();
    for (T object : objects) {
      Names.serverVmIndex(server.getMetadata().getName(), object.getMetadata().getName())
          .ifPresent(index -> byIndex.put(index, object));
    }
    return byIndex;
  }

  private static String annotation(HasMetadata object, String key) {
    var annotations = object.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(key);
  }

  private static String uid(VirtualServer server) {
    return server.getMetadata().getUid();
  }
}
