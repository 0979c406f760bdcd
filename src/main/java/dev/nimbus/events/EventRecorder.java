package dev.nimbus.events;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Records Kubernetes Events on Nimbus objects, each with one of the fixed reasons of {@link
 * Reason}, so that {@code kubectl describe} and alerting can rely on them. An Event that cannot be
 * written is logged and dropped: it never fails a reconcile.
 */
@ApplicationScoped
public class EventRecorder {
  private static final Logger LOG = Logger.getLogger(EventRecorder.class);
  static final String COMPONENT = "nimbus-operator";

  /** Every reason Nimbus gives an Event. */
  public enum Reason {
    /** A VirtualMachine was created for an instance. */
    InstanceCreated,
    /** An instance was removed by a scale down. */
    InstanceTerminated,
    /** An instance restarts to take a new instance type. */
    InstanceResized,
    /** An instance restarts because its server was asked to (spec.restartedAt, RebootInstances). */
    InstanceRestarted,
    /** The instances were halted (spec.running: false). */
    InstancesStopped,
    /** The instances were started again (spec.running: true). */
    InstancesStarted,
    /**
     * A VM was stopped or started outside its VirtualServer (such as by {@code virtctl stop}) and
     * was set back to what the server says.
     */
    InstanceStateRestored,
    /**
     * A VM's template (its size, node, disks or labels) was changed outside its VirtualServer and
     * was set back to what the server's reservation holds.
     */
    InstanceSpecRestored,
    /**
     * An object that Nimbus would create for a workload (a VM, a task's pod) exists and is not the
     * workload's: it is never adopted, changed or deleted, and what would be created waits.
     */
    NameTaken,
    /** The cluster lacks KubeVirt, so VirtualServers cannot run. */
    KubeVirtUnavailable,
    /** The pool holds no reservation for a workload that should run. */
    NotAdmitted,
    /** A workload's reservation was returned to its pool. */
    CapacityReleased,
    /** A task stopped. */
    TaskStopped,
    /** A ContainerTask names a task definition revision that is not registered (any more). */
    TaskDefinitionMissing,
    /** A reservation made for an update that was never stored was set back to the stored spec. */
    ReservationReconciled,
    /** An instance whose node is gone was placed on another node, or waits for room. */
    InstanceRecovered,
    /** On a pool: a lost ledger shard was rebuilt from the stored workloads. */
    LedgerShardRebuilt,
    /** A stored workload that held no reservation was admitted again. */
    Readmitted,
    /**
     * A stored workload whose instances run held no reservation (it was lost with a ledger shard
     * before the workload's status showed where they run): it holds one again where they run.
     */
    ReservationRestored
  }

  private final KubernetesClient client;

  public EventRecorder(KubernetesClient client) {
    this.client = client;
  }

  public void normal(HasMetadata object, Reason reason, String message) {
    record(object, "Normal", reason, message);
  }

  /**
   * A Normal Event with {@code annotations} that say in fields what its message says in words, for
   * clients that read Events (the AWS API reads ended instances so).
   */
  public void normal(
      HasMetadata object, Reason reason, String message, Map<String, String> annotations) {
    record(object, "Normal", reason, message, annotations);
  }

  public void warning(HasMetadata object, Reason reason, String message) {
    record(object, "Warning", reason, message);
  }

  /**
   * Records the Event, or counts it again: the same reason and message on the same object is one
   * Event whose count and lastTimestamp grow (as the Kubernetes event recorder aggregates), so a
   * condition looked at again every few seconds does not fill the namespace with Events.
   */
  private void record(HasMetadata object, String type, Reason reason, String message) {
    record(object, type, reason, message, Map.of());
  }

  private void record(
      HasMetadata object,
      String type,
      Reason reason,
      String message,
      Map<String, String> annotations) {
    var meta = object.getMetadata();
    String now = Instant.now().toString();
    var event =
        new EventBuilder()
            .withNewMetadata()
            .withName(name(object, type, reason, message))
            .withNamespace(meta.getNamespace())
            .withAnnotations(annotations.isEmpty() ? null : annotations)
            .endMetadata()
            .withInvolvedObject(
                new ObjectReferenceBuilder()
                    .withApiVersion(object.getApiVersion())
                    .withKind(object.getKind())
                    .withName(meta.getName())
                    .withNamespace(meta.getNamespace())
                    .withUid(meta.getUid())
                    .withResourceVersion(meta.getResourceVersion())
                    .build())
            .withType(type)
            .withReason(reason.name())
            .withMessage(message)
            .withFirstTimestamp(now)
            .withLastTimestamp(now)
            .withCount(1)
            .withReportingComponent(COMPONENT)
            .withNewSource()
            .withComponent(COMPONENT)
            .endSource()
            .build();
    var events = client.v1().events().inNamespace(namespaceOf(event));
    try {
      try {
        events.resource(event).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        // Recorded before: count it once more. Two replicas counting at once may lose one.
        Event recorded = events.withName(event.getMetadata().getName()).get();
        int count = recorded == null || recorded.getCount() == null ? 1 : recorded.getCount();
        events
            .withName(event.getMetadata().getName())
            .patch(
                PatchContext.of(PatchType.JSON_MERGE),
                "{\"count\":" + (count + 1) + ",\"lastTimestamp\":\"" + now + "\"}");
      }
    } catch (KubernetesClientException e) {
      LOG.debugf(
          "Event %s on %s %s/%s not recorded: %s",
          reason,
          object.getKind().toLowerCase(Locale.ROOT),
          meta.getNamespace(),
          meta.getName(),
          e.getMessage());
    }
  }

  private String namespaceOf(Event event) {
    String namespace = event.getMetadata().getNamespace();
    return namespace != null ? namespace : client.getNamespace();
  }

  /** One name per object, type, reason and message: what makes two Events the same. */
  private static String name(HasMetadata object, String type, Reason reason, String message) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(
                  String.join("\n", object.getMetadata().getUid(), type, reason.name(), message)
                      .getBytes(StandardCharsets.UTF_8));
      return object.getMetadata().getName() + "." + HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
    }
  }
}
