package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.concurrent.TimeoutException;
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
}
