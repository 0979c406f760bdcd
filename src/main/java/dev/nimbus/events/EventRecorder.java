package dev.nimbus.events;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
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
    /** The instances were halted (spec.running: false). */
    InstancesStopped,
    /** The instances were started again (spec.running: true). */
    InstancesStarted,
    /** The cluster lacks KubeVirt, so VirtualServers cannot run. */
    KubeVirtUnavailable,
    /** The pool holds no reservation for a workload that should run. */
    NotAdmitted,
    /** A workload's reservation was returned to its pool. */
    CapacityReleased,
    /** A task stopped. */
    TaskStopped,
    /** A reservation made for an update that was never stored was set back to the stored spec. */
    ReservationReconciled,
    /** An instance whose node is gone was placed on another node, or waits for room. */
    InstanceRecovered
  }

  private final KubernetesClient client;

  public EventRecorder(KubernetesClient client) {
    this.client = client;
  }

  public void normal(HasMetadata object, Reason reason, String message) {
    record(object, "Normal", reason, message);
  }

  public void warning(HasMetadata object, Reason reason, String message) {
    record(object, "Warning", reason, message);
  }

  private void record(HasMetadata object, String type, Reason reason, String message) {
    var meta = object.getMetadata();
    String now = Instant.now().toString();
    var event =
        new EventBuilder()
            .withNewMetadata()
            .withName(
                meta.getName()
                    + "."
                    + Long.toHexString(System.currentTimeMillis())
                    + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000)))
            .withNamespace(meta.getNamespace())
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
    try {
      client.v1().events().resource(event).create();
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
}
