package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ReviewDeadlineTest {
  private static final Duration DECISION_TIMEOUT = Duration.ofSeconds(8);

  @Test
  void readsTheTimeoutsTheApiServerWrites() {
    // Go's time.Duration.String(), as the API server writes the webhook's timeout parameter.
    assertThat(ReviewDeadline.goDuration("10s")).contains(Duration.ofSeconds(10));
    assertThat(ReviewDeadline.goDuration("1m0s")).contains(Duration.ofSeconds(60));
    assertThat(ReviewDeadline.goDuration("1h2m3s")).contains(Duration.ofSeconds(3723));
    assertThat(ReviewDeadline.goDuration("1.5s")).contains(Duration.ofMillis(1500));
    assertThat(ReviewDeadline.goDuration("250ms")).contains(Duration.ofMillis(250));
    assertThat(ReviewDeadline.goDuration("0s")).contains(Duration.ZERO);
    for (String notOne : new String[] {"", "10", "s", "10x", "ten seconds", "-1s", "10s "}) {
      assertThat(ReviewDeadline.goDuration(notOne)).as("'%s'", notOne).isEmpty();
    }
  }

  @Test
  void theAnswerIsDueFourFifthsOfTheWayThroughWhatTheCallerWaitsAndNeverLaterThanTheLongest() {
    long arrived = 1_000;
    assertThat(ReviewDeadline.of(arrived, Optional.of("5s"), DECISION_TIMEOUT).callerWaitsUntil())
        .as("a client whose request may last 5 s")
        .isEqualTo(arrived + Duration.ofSeconds(4).toNanos());
    assertThat(ReviewDeadline.of(arrived, Optional.of("10s"), DECISION_TIMEOUT).callerWaitsUntil())
        .isEqualTo(arrived + DECISION_TIMEOUT.toNanos());
    assertThat(ReviewDeadline.of(arrived, Optional.of("30s"), DECISION_TIMEOUT).callerWaitsUntil())
        .as("a webhook that waits longer than the ledger decides")
        .isEqualTo(arrived + DECISION_TIMEOUT.toNanos());
    assertThat(
            ReviewDeadline.of(arrived, Optional.of("99999999999h"), DECISION_TIMEOUT)
                .callerWaitsUntil())
        .isEqualTo(arrived + DECISION_TIMEOUT.toNanos());
    assertThat(ReviewDeadline.of(arrived, Optional.empty(), DECISION_TIMEOUT).callerWaitsUntil())
        .isEqualTo(arrived + DECISION_TIMEOUT.toNanos());
    assertThat(ReviewDeadline.of(arrived, Optional.of("soon"), DECISION_TIMEOUT).callerWaitsUntil())
        .isEqualTo(arrived + DECISION_TIMEOUT.toNanos());
  }
}
