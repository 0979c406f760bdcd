package dev.nimbus.webhook;

import com.fasterxml.jackson.databind.JsonNode;
import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Denials;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Resource;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.capacitypool.Demands;
import dev.nimbus.capacitypool.NodeModels;
import dev.nimbus.inventory.Catalog;
import dev.nimbus.ledger.Ledger;
import dev.nimbus.ledger.LedgerEntry;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.ledger.ReservedAt;
import dev.nimbus.validation.FieldError;
import dev.nimbus.validation.WorkloadValidator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The admission decision, made on what it is given and nothing else: a review's request and a
 * {@link Catalog} of the cluster decide whether a change is refused, allowed as it is, or needs
 * room ({@link Reserve}); a pool's ledger then decides the room. It makes no call: the webhook
 * reads the ledger and writes what this returns, in one compare-and-swap.
 */
final class AdmissionDecision {
  /** What a review comes to: an answer, or room to reserve. */
  sealed interface Outcome permits Decision, Reserve {}

  /** Room that {@code workload} asks of {@code pool}: {@code demand}, for {@code desired}. */
  record Reserve(HasMetadata workload, CapacityPool pool, Request demand, Integer desired)
      implements Outcome {}

  private final KubernetesSerialization json;
  private final Catalog inventory;
  private final Function<HasMetadata, Optional<CapacityPool>> holdingPool;
  private final double unconfirmedShare;
  private final NodeModels nodeModels = new NodeModels();
  private final Map<String, Kept> kept = new ConcurrentHashMap<>();

  /**
   * Decides on {@code inventory}; {@code holdingPool} tells which pool holds a workload's
   * reservation (its pool for good, whatever the default is now); one namespace's creates not
   * stored yet may hold {@code unconfirmedShare} of a pool.
   */
  AdmissionDecision(
      KubernetesSerialization json,
      Catalog inventory,
      Function<HasMetadata, Optional<CapacityPool>> holdingPool,
      double unconfirmedShare) {
    this.json = json;
    this.inventory = inventory;
    this.holdingPool = holdingPool;
    this.unconfirmedShare = unconfirmedShare;
  }

  /** A decision before it is turned into a response. */
  record Decision(
      boolean allowed,
      String reason,
      int code,
      String message,
      List<FieldError> causes,
      List<String> warnings)
      implements Outcome {
    static Decision allow(String reason, List<String> warnings) {
      return new Decision(true, reason, 200, null, List.of(), warnings);
    }

    static Decision deny(String reason, int code, String message) {
      return new Decision(false, reason, code, message, List.of(), List.of());
    }
  }

  /** What {@code request} comes to; an object that is not its kind's shape is refused with 400. */
  Outcome decide(AdmissionReviews.Request request) {
    try {
      return decide(request, request.kind());
    } catch (BadObject e) {
      return Decision.deny("BadRequest", 400, e.getMessage());
    } catch (IllegalArgumentException e) {
      // Values the schema would have refused (a count below zero, an unreadable quantity).
      return Decision.deny(
          "BadRequest",
          400,
          "request.object holds values its schema does not allow: " + e.getMessage());
    }
  }

  private Outcome decide(AdmissionReviews.Request request, String kind) {
    if ("DELETE".equals(request.operation())) {
      return decideDelete(request, kind);
    }
    if (!"CREATE".equals(request.operation()) && !"UPDATE".equals(request.operation())) {
      return Decision.allow("Unchanged", List.of());
    }
    if (!inventory.serves(request.namespace())) {
      // Reached only past the webhook's namespaceSelector (edited by hand, or a local run's): room
      // reserved here would be held for a workload that no controller of this install runs.
      return Decision.deny(
          "NotServed",
          403,
          "namespace "
              + request.namespace()
              + " is not one this Nimbus serves (nimbus.watch-namespaces): its "
              + kind
              + "s would never run");
    }
    Outcome outcome =
        switch (kind) {
          case "VirtualServer" -> decideServer(request);
          case "ContainerTask" -> decideTask(request);
          default -> Decision.allow("Unchanged", List.of());
        };
    // The API server calls the webhook before it finds a name taken, and each attempt has a new
    // UID: a reservation for it would hold room for an object that can never be stored. Judged on
    // the watched workloads; a create that races a create of the same name and is admitted holds
    // its room only until the pool's controller releases it as an orphan, within its namespace's
    // unconfirmed share.
    if (outcome instanceof Reserve reserve
        && "CREATE".equals(request.operation())
        && nameTaken(reserve.workload())) {
      return alreadyExists(reserve.workload());
    }
    return outcome;
  }

  private boolean nameTaken(HasMetadata workload) {
    return inventory
        .storedUid(
            workload.getKind(),
            workload.getMetadata().getNamespace(),
            workload.getMetadata().getName())
        .isPresent();
  }

  /** A review whose object cannot be read as its kind; answered with 400 and this message. */
  static final class BadObject extends RuntimeException {
    BadObject(String message) {
      super(message);
    }
  }

  /** The object under review, read as {@code type}, with the metadata and spec every one has. */
  private <T extends HasMetadata> T object(AdmissionReviews.Request request, Class<T> type) {
    return read(request.object(), "request.object", type);
  }

  /** The object as stored before an UPDATE, read as {@code type}. */
  private <T extends HasMetadata> T oldObject(AdmissionReviews.Request request, Class<T> type) {
    return read(request.oldObject(), "request.oldObject", type);
  }

  private <T extends HasMetadata> T read(JsonNode raw, String field, Class<T> type) {
    if (raw == null || raw.isNull()) {
      throw new BadObject(field + " is missing");
    }
    T object;
    try {
      object = json.convertValue(raw, type);
    } catch (IllegalArgumentException e) {
      String message = String.valueOf(e.getMessage());
      int end = message.indexOf('\n');
      throw new BadObject(
          field
              + " is not a valid "
              + type.getSimpleName()
              + ": "
              + (end < 0 ? message : message.substring(0, end)));
    }
    if (object == null || object.getMetadata() == null || object.getMetadata().getName() == null) {
      throw new BadObject(field + ".metadata.name is missing");
    }
    String uid = object.getMetadata().getUid();
    if (uid == null || uid.isBlank()) {
      // The API server gives every object its uid before admission; reservations are keyed by it.
      throw new BadObject(field + ".metadata.uid is missing");
    }
    String missing = missingRequiredField(object);
    if (missing != null) {
      throw new BadObject(field + "." + missing + " is missing; the schema requires it");
    }
    return object;
  }

  /**
   * The first field the kind's schema requires that {@code object} lacks, or null. The API server
   * checks the schema before it calls the webhook; a review that skipped it is answered, not failed
   * on.
   */
  private static String missingRequiredField(HasMetadata object) {
    if (object instanceof VirtualServer server) {
      var spec = server.getSpec();
      return spec == null
          ? "spec"
          : spec.image() == null
              ? "spec.image"
              : spec.instanceType() == null ? "spec.instanceType" : null;
    }
    if (object instanceof ContainerTask task) {
      var spec = task.getSpec();
      if (spec == null) {
        return "spec";
      }
      var definition = spec.taskDefinition();
      if (spec.launchType() == null) {
        return "spec.launchType";
      }
      if (definition == null) {
        return spec.taskDefinitionRef() == null ? "spec.taskDefinition" : null;
      }
      if (definition.cpu() == null) {
        return "spec.taskDefinition.cpu";
      }
      if (definition.memory() == null) {
        return "spec.taskDefinition.memory";
      }
      if (definition.containers() == null || definition.containers().isEmpty()) {
        return "spec.taskDefinition.containers";
      }
      for (int i = 0; i < definition.containers().size(); i++) {
        var container = definition.containers().get(i);
        if (container == null || container.name() == null || container.image() == null) {
          return "spec.taskDefinition.containers[" + i + "].name or .image";
        }
      }
    }
    return null;
  }

  /**
   * EC2's DisableApiTermination: a VirtualServer with terminationProtection is not deleted, not
   * even with its namespace, until the flag is lifted. Nothing else is checked on delete.
   */
  private Decision decideDelete(AdmissionReviews.Request request, String kind) {
    if (!"VirtualServer".equals(kind)) {
      return Decision.allow("Unchanged", List.of());
    }
    VirtualServer server = oldObject(request, VirtualServer.class);
    if (!Boolean.TRUE.equals(server.getSpec().terminationProtection())) {
      return Decision.allow("Unchanged", List.of());
    }
    String name = server.getMetadata().getName();
    return Decision.deny(
        "TerminationProtection",
        403,
        "VirtualServer \""
            + name
            + "\" has spec.terminationProtection: true; lift it first: kubectl patch vsrv "
            + name
            + " -n "
            + server.getMetadata().getNamespace()
            + " --type merge -p '{\"spec\":{\"terminationProtection\":false}}'");
  }

  private Outcome decideServer(AdmissionReviews.Request request) {
    VirtualServer server = object(request, VirtualServer.class);
    // An update keeps the pool its reservation is in, whatever the default is now.
    Optional<CapacityPool> admitted = Optional.empty();
    if (isUpdate(request)) {
      VirtualServer old = oldObject(request, VirtualServer.class);
      // Metadata-only updates (labels, finalizers, and above all the removal of a finalizer
      // while the object is deleted) must never be refused for a reference that vanished since.
      if (Objects.equals(old.getSpec(), server.getSpec())
          || server.getMetadata().getDeletionTimestamp() != null) {
        return Decision.allow("Unchanged", List.of());
      }
      if (raisesNoDemand(old, server)) {
        return decideWithoutRaise(old, server);
      }
      admitted = holdingPool.apply(server);
    }
    var result = WorkloadValidator.validate(server, inventory);
    List<FieldError> errors = result.errorsWhenPinned(admitted.isPresent());
    if (!errors.isEmpty()) {
      return invalid(server, errors);
    }
    Request demand =
        Demands.of(server, inventory.instanceType(server.getSpec().instanceType()).orElseThrow());
    if (isUpdate(request)) {
      VirtualServer old = oldObject(request, VirtualServer.class);
      var oldType = inventory.instanceType(old.getSpec().instanceType());
      if (oldType.isPresent() && sameDemand(Demands.of(old, oldType.get()), demand)) {
        return Decision.allow("Unchanged", List.of());
      }
    }
    return new Reserve(
        server, admitted.or(result::pool).orElseThrow(), demand, server.getSpec().maxCount());
  }

  /**
   * Whether an update can only keep or lower what the server holds: the same instance type and
   * pool, and either a stop or no more instances than before (EC2 never refuses a stop).
   */
  private static boolean raisesNoDemand(VirtualServer old, VirtualServer server) {
    var before = old.getSpec();
    var after = server.getSpec();
    if (!Objects.equals(before.instanceType(), after.instanceType())
        || !Objects.equals(before.pool(), after.pool())) {
      return false;
    }
    if (Boolean.FALSE.equals(after.running())) {
      return true;
    }
    return !Boolean.FALSE.equals(before.running())
        && count(after.maxCount()) <= count(before.maxCount())
        && count(after.minCount()) <= count(before.minCount());
  }

  /**
   * An update that raises no demand (lifting protection, a stop, a scale down, new user data) is
   * never refused for room, nor for a reference that vanished since the server was admitted: only
   * the references it introduces are checked. Nothing is written here: the controller returns the
   * capacity once the stored spec says so and the instances are gone, so an update that is refused
   * after this answer (by another webhook, a conflict) changes nothing.
   */
  private Decision decideWithoutRaise(VirtualServer old, VirtualServer server) {
    List<FieldError> errors = WorkloadValidator.introducedReferences(old, server, inventory);
    return errors.isEmpty() ? Decision.allow("Unchanged", List.of()) : invalid(server, errors);
  }

  private static int count(Integer count) {
    return count == null ? 1 : count;
  }

  private Outcome decideTask(AdmissionReviews.Request request) {
    ContainerTask task = object(request, ContainerTask.class);
    if (isUpdate(request)) {
      // The spec is immutable (the schema says so): an update changes metadata or nothing.
      return Decision.allow("Unchanged", List.of());
    }
    var result = WorkloadValidator.validate(task, inventory);
    if (!result.valid()) {
      return invalid(task, result.errors());
    }
    return new Reserve(
        task,
        result.pool().orElseThrow(),
        Demands.of(task, inventory.taskDefinition(task).orElseThrow()),
        task.getSpec().count());
  }

  /**
   * The pool's decision on {@code reserve} over {@code ledger}, answered with {@code allowedReason}
   * when it is admitted, and the ledger with the reservation then, made at {@code at}. A create
   * whose room would take its namespace's reservations for creates not stored yet past their share
   * of the pool is answered 429 instead, and reserves nothing.
   */
  LedgerStore.Change<Decision> reserve(
      Reserve reserve, Ledger ledger, ReservedAt at, String allowedReason) {
    Kept known = kept(reserve.pool(), ledger);
    Pool model = model(known, ledger);
    Verdict decided = model.admit(reserve.demand());
    if (decided instanceof Verdict.Admitted admitted) {
      HasMetadata workload = reserve.workload();
      if (!stored(workload)) {
        Optional<Decision> pastShare =
            pastUnconfirmedShare(reserve, ledger, known, model, admitted);
        if (pastShare.isPresent()) {
          return LedgerStore.Change.none(pastShare.get());
        }
      }
      LedgerEntry entry =
          LedgerEntry.of(
              workload.getKind(),
              workload.getMetadata().getNamespace(),
              workload.getMetadata().getName(),
              reserve.desired() == null ? 1 : reserve.desired(),
              admitted.reservation(),
              at,
              // The API server has set the generation the object is stored with.
              workload.getMetadata().getGeneration());
      return LedgerStore.Change.write(ledger.with(entry), verdict(reserve, decided, allowedReason));
    }
    return LedgerStore.Change.none(verdict(reserve, decided, allowedReason));
  }

  /**
   * A denial when the reservations of {@code reserve}'s namespace for other creates not stored yet,
   * with {@code admitted}, would hold more of a resource than {@code unconfirmedShare} of the pool.
   * A create while the namespace holds none may take any room the pool has: the share bounds what
   * creates that fail can hold together, never the size of one.
   */
  private Optional<Decision> pastUnconfirmedShare(
      Reserve reserve, Ledger ledger, Kept known, Pool model, Verdict.Admitted admitted) {
    String namespace = reserve.workload().getMetadata().getNamespace();
    String uid = reserve.workload().getMetadata().getUid();
    Amounts held = Amounts.ZERO;
    for (LedgerEntry entry : known.unstored(namespace, inventory)) {
      if (!ledger.changes().containsKey(entry.uid()) && unconfirmed(entry, uid)) {
        held = held.plus(entry.reservation().total());
      }
    }
    for (var change : ledger.changes().values()) {
      if (change.isPresent()
          && namespace.equals(change.get().namespace())
          && unconfirmed(change.get(), uid)) {
        held = held.plus(change.get().reservation().total());
      }
    }
    if (held.isZero()) {
      return Optional.empty(); // one create may be as large as the pool
    }
    Amounts after = held.plus(admitted.reservation().total());
    Amounts virtual = model.virtual();
    Amounts bound =
        Amounts.of(
            share(virtual.get(Resource.CPU)),
            share(virtual.get(Resource.MEMORY)),
            share(virtual.get(Resource.EPHEMERAL_STORAGE)));
    if (after.fitsIn(bound)) {
      return Optional.empty();
    }
    Resource resource = after.firstExceeding(bound);
    String pool = reserve.pool().getMetadata().getName();
    return Optional.of(
        Decision.deny(
            "UnconfirmedShare",
            429,
            "namespace \""
                + namespace
                + "\" would hold "
                + Denials.format(resource, after.get(resource))
                + " "
                + resource.kubernetesName()
                + " of pool \""
                + pool
                + "\" for creates not stored yet, past its share of "
                + Denials.format(resource, bound.get(resource))
                + " ("
                + unconfirmedShare
                + " of "
                + Denials.format(resource, virtual.get(resource))
                + "): creates that were admitted and then refused (by another webhook, a quota)"
                + " hold their room until it is released; retry the request"));
  }

  private long share(long amount) {
    return (long) Math.floor(amount * unconfirmedShare);
  }

  /** A create whose name is stored already: refused before anything is reserved. */
  private static Decision alreadyExists(HasMetadata workload) {
    return Decision.deny(
        "AlreadyExists",
        409,
        workload.getKind()
            + " \""
            + workload.getMetadata().getName()
            + "\" already exists in namespace "
            + workload.getMetadata().getNamespace()
            + "; nothing was reserved");
  }

  private boolean stored(HasMetadata workload) {
    return inventory.stored(
        workload.getKind(),
        workload.getMetadata().getNamespace(),
        workload.getMetadata().getName(),
        workload.getMetadata().getUid());
  }

  /** Whether {@code entry}, held for another workload than {@code uid}'s, is not stored. */
  private boolean unconfirmed(LedgerEntry entry, String uid) {
    return !entry.uid().equals(uid)
        && !inventory.stored(entry.kind(), entry.namespace(), entry.name(), entry.uid());
  }

  /**
   * The model a pool decides on with {@code ledger}: the one {@code known} for the ledger's
   * snapshot, changed by what the ledger changed since.
   */
  private static Pool model(Kept known, Ledger ledger) {
    Map<String, Optional<Reservation>> changes = new HashMap<>();
    ledger.changes().forEach((uid, entry) -> changes.put(uid, entry.map(LedgerEntry::reservation)));
    return known.model().changed(changes);
  }

  /** What is kept for {@code pool}'s decisions on {@code ledger}'s snapshot and nodes. */
  private Kept kept(CapacityPool pool, Ledger ledger) {
    String name = pool.getMetadata().getName();
    List<dev.nimbus.allocation.Node> nodes =
        nodeModels.deciding(pool, inventory.nodes(), ledger.lostNodes());
    Ledger snapshot = ledger.snapshot();
    Kept known = kept.get(name);
    if (known == null || known.snapshot() != snapshot || known.nodes() != nodes) {
      List<Reservation> held =
          snapshot.entries().values().stream().map(LedgerEntry::reservation).toList();
      known = new Kept(snapshot, nodes, new Pool(name, nodes, held), new ConcurrentHashMap<>());
      kept.put(name, known);
    }
    return known;
  }

  /**
   * The model of a pool built once for a ledger snapshot and the nodes of that moment, and the
   * entries of that snapshot whose workloads were not stored when a namespace's were first asked:
   * the candidates for the unconfirmed share. A workload stored later is seen at once (each
   * candidate is asked again); one deleted later counts once a new snapshot is read, at the next
   * commit round that wrote anything. The share bounds what creates that fail hold together, and a
   * deleted workload's entry is released by its controller.
   */
  private record Kept(
      Ledger snapshot,
      List<dev.nimbus.allocation.Node> nodes,
      Pool model,
      Map<String, List<LedgerEntry>> unstoredByNamespace) {
    List<LedgerEntry> unstored(String namespace, Catalog inventory) {
      return unstoredByNamespace.computeIfAbsent(
          namespace,
          ns ->
              snapshot.entries().values().stream()
                  .filter(e -> ns.equals(e.namespace()))
                  .filter(e -> !inventory.stored(e.kind(), e.namespace(), e.name(), e.uid()))
                  .toList());
    }
  }

  /** The answer for {@code reserve} once the pool decided {@code verdict}. */
  static Decision verdict(Reserve reserve, Verdict verdict, String allowedReason) {
    HasMetadata workload = reserve.workload();
    String pool = reserve.pool().getMetadata().getName();
    Integer desired = reserve.desired();
    if (verdict instanceof Verdict.Rejected rejected) {
      String reason =
          switch (rejected.reason()) {
            case INSUFFICIENT_CAPACITY -> "InsufficientCapacity";
            case NO_NODE_FITS -> "NoNodeFits";
            case NO_ELIGIBLE_NODE -> "NoEligibleNode";
          };
      return Decision.deny(reason, 403, Denials.describe(pool, rejected));
    }
    if (verdict instanceof Verdict.OutOfPodSlots outOfSlots) {
      return Decision.deny("NoPodSlot", 403, Denials.describe(pool, outOfSlots));
    }
    int admitted = ((Verdict.Admitted) verdict).reservation().count();
    int wanted = desired == null ? 1 : desired;
    List<String> warnings =
        admitted < wanted
            ? List.of(
                "pool \""
                    + pool
                    + "\" has room for "
                    + admitted
                    + " of the "
                    + wanted
                    + " asked; "
                    + workload.getKind()
                    + " "
                    + workload.getMetadata().getName()
                    + " runs "
                    + admitted)
            : List.of();
    return Decision.allow(allowedReason, warnings);
  }

  private static boolean sameDemand(Request a, Request b) {
    return a.perInstance().equals(b.perInstance())
        && a.minCount() == b.minCount()
        && a.maxCount() == b.maxCount();
  }

  private static boolean isUpdate(AdmissionReviews.Request request) {
    return "UPDATE".equals(request.operation());
  }

  private static Decision invalid(HasMetadata workload, List<FieldError> errors) {
    String message =
        workload.getKind()
            + " \""
            + workload.getMetadata().getName()
            + "\" is invalid: "
            + String.join("; ", errors.stream().map(Objects::toString).toList());
    return new Decision(false, "Invalid", 422, message, errors, List.of());
  }
}
