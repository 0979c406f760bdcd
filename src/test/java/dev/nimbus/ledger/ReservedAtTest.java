package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class ReservedAtTest {
  @Test
  void aTimeOnTheApiServersClockIsReadBackRoundedUpToTheMillisecond() {
    ReservedAt at = ReservedAt.onApiServer(Instant.parse("2026-12-04T09:20:01.250000001Z"));
    assertThat(at.stored()).isEqualTo("api-server:2026-12-04T09:20:01.251Z");
    assertThat(ReservedAt.apiServerTime(at.stored()))
        .contains(Instant.parse("2026-12-04T09:20:01.251Z"));
  }

  @Test
  void aReplicasOwnTimeIsStoredAsEarlierVersionsStoredItAndIsNotTakenForTheApiServers() {
    ReservedAt at = ReservedAt.onThisReplica(Instant.parse("2026-12-04T09:20:01.250Z"));
    assertThat(at.stored()).isEqualTo("2026-12-04T09:20:01.250Z");
    assertThat(ReservedAt.apiServerTime(at.stored())).isEmpty();
    assertThat(ReservedAt.apiServerTime(null)).isEmpty();
    assertThat(ReservedAt.apiServerTime("api-server:yesterday")).isEmpty();
  }
}
