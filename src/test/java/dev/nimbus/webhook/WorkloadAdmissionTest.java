package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.Test;

/**
 * What the webhook answers when a decision fails: every answer says what to do, and a failure that
 * passes on its own (the API server slow or overloaded) is one the caller is told to retry.
 */
class WorkloadAdmissionTest {

  /** As the client reports a ledger write that the API server did not answer within its timeout. */
  @Test
  void aLedgerWriteThatOutlastedItsTimeoutIsAnsweredWithRetry() {
    var decision =
        WorkloadAdmission.failed(
            new KubernetesClientException(
                "The timeout period of 4000ms has been exceeded while executing POST"
                    + " /api/v1/namespaces/nimbus/configmaps for resource null",
                new TimeoutException()));

    assertThat(decision.allowed()).isFalse();
    assertThat(decision.code()).isEqualTo(429);
    assertThat(decision.message())
        .contains("The timeout period of 4000ms has been exceeded")
        .contains("the request was not admitted")
        .endsWith("retry the request");
  }

  @Test
  void anOverloadedApiServerIsAnsweredWithRetry() {
    for (int code : new int[] {429, 500, 503, 504}) {
      var decision =
          WorkloadAdmission.failed(
              new KubernetesClientException(
                  new StatusBuilder().withCode(code).withMessage("the server is busy").build()));

      assertThat(decision.code()).as("for %d", code).isEqualTo(429);
      assertThat(decision.message()).as("for %d", code).endsWith("retry the request");
    }
  }

  /** A refusal that a retry alone will not mend, such as a quota on the ledger's ConfigMaps. */
  @Test
  void aRefusedLedgerWriteSaysWhatRefusedIt() {
    var decision =
        WorkloadAdmission.failed(
            new KubernetesClientException(
                new StatusBuilder()
                    .withCode(403)
                    .withMessage("configmaps \"ledger\" is forbidden: exceeded quota: ledger-quota")
                    .build()));

    assertThat(decision.code()).isEqualTo(500);
    assertThat(decision.message())
        .contains("exceeded quota: ledger-quota")
        .contains("if it fails again, the operator's log says why");
  }

  @Test
  void anUnexpectedErrorSaysSoAndWhereToLook() {
    var decision = WorkloadAdmission.failed(new IllegalStateException("a broken invariant"));

    assertThat(decision.code()).isEqualTo(500);
    assertThat(decision.message())
        .startsWith("Nimbus could not decide this request: a broken invariant")
        .contains("if it fails again, the operator's log says why");
  }

  /**
   * A deferral is expected under load and logged as one warning line; any other failure is an error
   * with its stack, which the operator's log must show (AdmissionIT refuses it).
   */
  @Test
  void aDeferralIsLoggedAsAWarningLineAndAnyOtherFailureAsAnErrorWithItsStack() {
    var request =
        new AdmissionReviews.Request(
            "uid-1", "VirtualServer", "CREATE", "tenant", "vm-19", false, null, null);
    List<LogRecord> logged = new CopyOnWriteArrayList<>();
    Handler capture =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            logged.add(record);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger log = Logger.getLogger(WorkloadAdmission.class.getName());
    log.addHandler(capture);
    try {
      WorkloadAdmission.failed(
          request,
          new KubernetesClientException(
              "The timeout of 4000 ms has been exceeded when getting a connection to"
                  + " 127.0.0.1:16443",
              new TimeoutException()));
      WorkloadAdmission.failed(
          request,
          new KubernetesClientException(
              new StatusBuilder()
                  .withCode(403)
                  .withMessage("configmaps is forbidden: exceeded quota: ledger-quota")
                  .build()));
    } finally {
      log.removeHandler(capture);
    }

    assertThat(logged).hasSize(2);
    LogRecord deferred = logged.get(0);
    assertThat(deferred.getLevel().intValue()).isEqualTo(Level.WARNING.intValue());
    assertThat(formatted(deferred))
        .isEqualTo(
            "Admission of VirtualServer tenant/vm-19 deferred, answered 429: The timeout of 4000"
                + " ms has been exceeded when getting a connection to 127.0.0.1:16443");
    assertThat(deferred.getThrown()).as("a deferral's one line, no stack").isNull();
    LogRecord failed = logged.get(1);
    assertThat(failed.getLevel().intValue()).isEqualTo(Level.SEVERE.intValue());
    assertThat(formatted(failed)).isEqualTo("Admission of VirtualServer tenant/vm-19 failed");
    assertThat(failed.getThrown()).hasMessageContaining("exceeded quota: ledger-quota");
  }

  /** The line as the operator's log prints it: JBoss Logging formats printf-style. */
  private static String formatted(LogRecord record) {
    return record instanceof ExtLogRecord printf
        ? printf.getFormattedMessage()
        : new SimpleFormatter().formatMessage(record);
  }
}
