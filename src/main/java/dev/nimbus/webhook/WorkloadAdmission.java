package dev.nimbus.webhook;

import dev.nimbus.allocation.Pool;
import dev.nimbus.config.NimbusConfig;
import dev.nimbus.inventory.Inventory;
import dev.nimbus.ledger.LedgerStore;
import dev.nimbus.metrics.NimbusMetrics;
import dev.nimbus.validation.WorkloadValidator;
import dev.nimbus.webhook.AdmissionDecision.Decision;
import dev.nimbus.webhook.AdmissionDecision.Reserve;
import dev.nimbus.workload.AdmittedPool;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.StatusCauseBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Answers the reviews of VirtualServers and ContainerTasks: the references must exist ({@link
 * WorkloadValidator}), and the pool must have room ({@link Pool#admit}), as {@link
 * AdmissionDecision} decides. This class does what the decision cannot: it reads and writes the
 * pool's ledger, the decision and the reservation being one compare-and-swap ({@link LedgerStore}),
 * so any number of replicas can answer at once without promising the same room twice; and it looks
 * up whether a created name is taken. Dry runs decide but reserve nothing. The object itself is
 * never changed.
 */
@ApplicationScoped
public class WorkloadAdmission {
  private static final Logger LOG = Logger.getLogger(WorkloadAdmission.class);

  private final LedgerStore ledgers;
  private final NimbusMetrics metrics;
  private final AdmissionDecision decisions;

  public WorkloadAdmission(
      Inventory inventory,
      LedgerStore ledgers,
      NimbusMetrics metrics,
      KubernetesClient client,
      NimbusConfig config) {
    this.ledgers = ledgers;
    this.metrics = metrics;
    this.decisions =
        new AdmissionDecision(
            client.getKubernetesSerialization(),
            inventory,
            workload -> AdmittedPool.holding(workload, inventory, ledgers),
            config.ledger().unconfirmedShare());
  }

  /**
   * The answer to {@code request}, due by {@code deadline}: the ledger's decision timeout counts
   * from when the review reached the webhook, as the API server's does from when it sent it, and a
   * reservation is written only while the API server still waits for the answer.
   */
  AdmissionResponse review(AdmissionReviews.Request request, ReviewDeadline deadline) {
    long start = System.nanoTime();
    String kind = request.kind();
    Decision decision;
    try {
      var outcome = decisions.decide(request);
      decision =
          outcome instanceof Reserve reserve
              ? reserve(request, deadline, reserve)
              : (Decision) outcome;
    } catch (LedgerStore.ContentionException e) {
      decision = Decision.deny("Contention", 429, e.getMessage());
    } catch (RuntimeException e) {
      decision = failed(request, e);
    }
    metrics.admission(
        kind,
        decision.allowed() ? "allowed" : "denied",
        decision.reason(),
        Duration.ofNanos(System.nanoTime() - start));
    return response(request.uid(), decision);
  }

  /**
   * The answer to {@code request}, whose decision failed with {@code e}, logged: a deferral (429)
   * as one warning line, since an overloaded API server is expected now and then and is not a fault
   * here; anything else as an error with its stack.
   */
  static Decision failed(AdmissionReviews.Request request, RuntimeException e) {
    Decision decision = failed(e);
    if (decision.code() == 429) {
      LOG.warnf(
          "Admission of %s %s/%s deferred, answered 429: %s",
          request.kind(), request.namespace(), request.name(), e.getMessage());
    } else {
      LOG.errorf(
          e, "Admission of %s %s/%s failed", request.kind(), request.namespace(), request.name());
    }
    return decision;
  }

  /**
   * The answer to a request whose decision failed; it always says what to do. A failure of the API
   * server that passes on its own (no answer within the client's timeout, 429, a 5xx) is answered
   * 429, which tells the caller to retry: the request was not admitted, and a reservation whose
   * write was stored after all holds its room only until its object is known never to be stored.
   * Anything else is answered 500 with its cause.
   */
  static Decision failed(RuntimeException e) {
    if (apiServerError(e).filter(WorkloadAdmission::passesOnItsOwn).isPresent()) {
      return Decision.deny(
          "Unavailable",
          429,
          "the API server could not serve what this decision reads or writes ("
              + e.getMessage()
              + "); the request was not admitted: retry the request");
    }
    return Decision.deny(
        "Error",
        500,
        "Nimbus could not decide this request: "
            + e.getMessage()
            + "; retry it, and if it fails again, the operator's log says why");
  }

  private static Optional<KubernetesClientException> apiServerError(Throwable e) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (cause instanceof KubernetesClientException apiError) {
        return Optional.of(apiError);
      }
    }
    return Optional.empty();
  }

  /**
   * No answer at all (the client reports no code: its timeout passed, a connection was lost), too
   * many requests, or a 5xx.
   */
  private static boolean passesOnItsOwn(KubernetesClientException e) {
    return e.getCode() <= 0 || e.getCode() == 429 || e.getCode() >= 500;
  }

  /** Decides the room {@code reserve} asks in its pool's ledger, and writes it unless a dry run. */
  private Decision reserve(
      AdmissionReviews.Request request, ReviewDeadline deadline, Reserve reserve) {
    String pool = reserve.pool().getMetadata().getName();
    if (request.dryRun()) {
      // Decided on the ledger as this replica knows it: a dry run writes nothing to check it with.
      return decisions
          .reserve(reserve, ledgers.recent(pool), ledgers.reservedNow(), "DryRun")
          .result();
    }
    return ledgers.change(
        pool,
        deadline.arrived(),
        deadline.callerWaitsUntil(),
        ledger -> decisions.reserve(reserve, ledger, ledgers.reservedNow(), "Admitted"));
  }

  private static AdmissionResponse response(String uid, Decision decision) {
    AdmissionResponseBuilder response =
        new AdmissionResponseBuilder().withUid(uid).withAllowed(decision.allowed());
    if (!decision.warnings().isEmpty()) {
      response.withWarnings(decision.warnings());
    }
    if (!decision.allowed()) {
      response.withStatus(
          new StatusBuilder()
              .withCode(decision.code())
              .withReason(decision.reason())
              .withMessage(decision.message())
              .withNewDetails()
              .withCauses(
                  decision.causes().stream()
                      .map(
                          c ->
                              new StatusCauseBuilder()
                                  .withField(c.path())
                                  .withMessage(c.message())
                                  .withReason("FieldValueInvalid")
                                  .build())
                      .toList())
              .endDetails()
              .build());
    }
    return response.build();
  }
}
