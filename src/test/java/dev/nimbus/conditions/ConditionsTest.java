package dev.nimbus.conditions;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConditionsTest {
  @Test
  void aTransitionIsTimedToTheSecondAsKubernetesWritesItsTimes() {
    List<Condition> conditions = Conditions.set(null, "Ready", false, "Pending", "waiting", 1L);

    String since = conditions.get(0).getLastTransitionTime();
    // metav1.Time's RFC 3339 form: whole seconds, as the API server writes creationTimestamp.
    assertThat(since).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ");
    assertThat(Instant.parse(since)).isBeforeOrEqualTo(Instant.now());
  }

  @Test
  void aConditionKeepsItsTransitionTimeWhileItsStatusStaysAndTakesANewOneWhenItChanges() {
    List<Condition> before =
        List.of(
            new ConditionBuilder()
                .withType("Ready")
                .withStatus("False")
                .withReason("Pending")
                .withMessage("waiting")
                .withLastTransitionTime("2026-01-01T00:00:00Z")
                .build());

    assertThat(
            Conditions.set(before, "Ready", false, "Pending", "still waiting", 2L)
                .get(0)
                .getLastTransitionTime())
        .isEqualTo("2026-01-01T00:00:00Z");
    assertThat(
            Conditions.set(before, "Ready", true, "Running", "running", 2L)
                .get(0)
                .getLastTransitionTime())
        .isNotEqualTo("2026-01-01T00:00:00Z");
  }
}
