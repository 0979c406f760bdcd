package dev.nimbus.containertask;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A run that RunTask started is kept for the retention after its last task stopped; a run applied
 * any other way, or one with a task still going, is kept for good.
 */
class StoppedRunRetentionTest {
  private static final Instant NOW = Instant.parse("2026-11-30T12:00:00Z");
  private static final Duration HOUR = Duration.ofHours(1);

  @Test
  void anApiRunIsDueAnHourAfterItsLastTaskStopped() {
    var run = run(true, stopped("2026-11-30T11:10:00Z"), stopped("2026-11-30T11:30:00Z"));

    assertThat(StoppedRunRetention.remaining(run, run.getStatus(), HOUR, NOW))
        .contains(Duration.ofMinutes(30));
    assertThat(StoppedRunRetention.remaining(run, run.getStatus(), HOUR, NOW.plus(HOUR)))
        .hasValueSatisfying(left -> assertThat(left.isNegative() || left.isZero()).isTrue());
  }

  @Test
  void aRunAppliedWithKubectlOrStillRunningIsKept() {
    var applied = run(false, stopped("2026-11-30T10:00:00Z"));
    var going = run(true, stopped("2026-11-30T10:00:00Z"), running());

    assertThat(StoppedRunRetention.remaining(applied, applied.getStatus(), HOUR, NOW)).isEmpty();
    assertThat(StoppedRunRetention.remaining(going, going.getStatus(), HOUR, NOW)).isEmpty();
  }

  private static ContainerTask run(boolean byApi, ContainerTaskStatus.Task... tasks) {
    ContainerTask run = new ContainerTask();
    run.setMetadata(
        new ObjectMetaBuilder()
            .withName("run")
            .withNamespace("ns")
            .withLabels(byApi ? Map.of(Names.CREATED_BY_LABEL, Names.CREATED_BY_AWS_API) : Map.of())
            .build());
    run.setStatus(
        new ContainerTaskStatus(1L, List.of(), "tasks", 0, 0, 0, List.of(tasks), null, null));
    return run;
  }

  private static ContainerTaskStatus.Task stopped(String at) {
    return new ContainerTaskStatus.Task(
        "arn",
        "pod",
        "node",
        "zone-a",
        "STOPPED",
        "STOPPED",
        "EssentialContainerExited",
        "done",
        "2026-11-30T09:00:00Z",
        "2026-11-30T09:00:01Z",
        at,
        List.of());
  }

  private static ContainerTaskStatus.Task running() {
    return new ContainerTaskStatus.Task(
        "arn",
        "pod",
        "node",
        "zone-a",
        "RUNNING",
        "RUNNING",
        null,
        null,
        "2026-11-30T09:00:00Z",
        "2026-11-30T09:00:01Z",
        null,
        List.of());
  }
}
