package dev.nimbus.containertask;

import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.naming.Names;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * How long a run that the AWS API's RunTask started is kept once all its tasks have stopped: ECS
 * shows a stopped task for about an hour and then forgets it, and so does Nimbus, so that finished
 * runs do not pile up in a namespace. Only runs the API created: one applied with kubectl or synced
 * from Git is the user's object, which Argo CD would create again (and so run again) if it went.
 */
final class StoppedRunRetention {
  private StoppedRunRetention() {}

  /**
   * How long until {@code task} is deleted, as {@code status} tells: empty for a run that is kept
   * (not created by the API, or not every task stopped), zero or less once it is due.
   */
  static Optional<Duration> remaining(
      ContainerTask task, ContainerTaskStatus status, Duration retention, Instant now) {
    var labels = task.getMetadata().getLabels();
    if (labels == null
        || !Names.CREATED_BY_AWS_API.equals(labels.get(Names.CREATED_BY_LABEL))
        || status == null
        || !TaskStatuses.allStopped(status)) {
      return Optional.empty();
    }
    Instant lastStop = Instant.EPOCH;
    for (var stopped : status.tasks()) {
      if (stopped.stoppedAt() != null) {
        Instant at = Instant.parse(stopped.stoppedAt());
        lastStop = at.isAfter(lastStop) ? at : lastStop;
      }
    }
    return Optional.of(Duration.between(now, lastStop.plus(retention)));
  }
}
