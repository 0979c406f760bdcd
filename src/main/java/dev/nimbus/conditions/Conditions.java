package dev.nimbus.conditions;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Builds {@code metav1.Condition} lists that change only when something really changed: a condition
 * keeps its lastTransitionTime while its status stays the same, so a status computed twice from the
 * same observations is equal, and no write follows. Times are whole seconds in RFC 3339, the form
 * of {@code metav1.Time} that the API server writes its own times in (and conditions written in the
 * same second share one time in a replica's cache).
 */
public final class Conditions {
  /** A workload's condition that says whether its pool holds a reservation for it. */
  public static final String ADMITTED = "Admitted";

  /**
   * The reason of {@link #ADMITTED} False while the pool holds no reservation for a workload that
   * should run: its controller looked the ledger up as stored at that generation and found none.
   */
  public static final String NOT_ADMITTED = "NotAdmitted";

  private Conditions() {}

  /** {@code previous} with {@code type} set; the list is sorted by type. */
  public static List<Condition> set(
      List<Condition> previous,
      String type,
      boolean status,
      String reason,
      String message,
      Long observedGeneration) {
    List<Condition> next = new ArrayList<>();
    Condition old = null;
    if (previous != null) {
      for (Condition condition : previous) {
        if (condition.getType().equals(type)) {
          old = condition;
        } else {
          next.add(condition);
        }
      }
    }
    String statusText = status ? "True" : "False";
    String since =
        old != null && Objects.equals(old.getStatus(), statusText)
            ? old.getLastTransitionTime()
            : Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    next.add(
        new ConditionBuilder()
            .withType(type)
            .withStatus(statusText)
            .withReason(reason)
            .withMessage(message)
            .withObservedGeneration(observedGeneration)
            .withLastTransitionTime(since)
            .build());
    next.sort(Comparator.comparing(Condition::getType));
    return next;
  }

  /** {@code previous} without {@code type}; null stays null. */
  public static List<Condition> remove(List<Condition> previous, String type) {
    return previous == null
        ? null
        : previous.stream().filter(condition -> !condition.getType().equals(type)).toList();
  }
}
