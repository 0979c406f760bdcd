package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ApiServerClockTest {
  private static final long MS = 1_000_000L;
  private static final Duration PROBE_AFTER = Duration.ofSeconds(60);

  /** This replica's monotonic clock, and an API server whose clock runs at an offset from it. */
  private static final class Clocks {
    final AtomicLong nanos = new AtomicLong(987_654_321_000L);
    long apiOffsetNanos;
    final AtomicInteger probes = new AtomicInteger();
    final ApiServerClock clock =
        new ApiServerClock(nanos::get, probes::incrementAndGet, PROBE_AFTER);

    Clocks(long apiOffsetNanos) {
      this.apiOffsetNanos = apiOffsetNanos;
    }

    Instant apiNow() {
      long epoch = nanos.get() + apiOffsetNanos;
      return Instant.ofEpochSecond(epoch / 1_000_000_000L, epoch % 1_000_000_000L);
    }

    /** A request that takes {@code roundTripMs}, answered {@code atMs} into it. */
    void answer(long roundTripMs, long atMs) {
      long sent = nanos.get();
      nanos.addAndGet(atMs * MS);
      Instant date = apiNow().truncatedTo(ChronoUnit.SECONDS);
      nanos.addAndGet((roundTripMs - atMs) * MS);
      clock.observe(sent, nanos.get(), date);
    }

    void pass(long ms) {
      nanos.addAndGet(ms * MS);
    }

    /** How far apart the clock's two bounds are now. */
    Duration width() {
      return Duration.between(clock.earliest().orElseThrow(), clock.latest().orElseThrow());
    }
  }

  @Test
  void knowsNothingBeforeAnAnswer() {
    Clocks clocks = new Clocks(1_790_000_000_000_000_000L);
    assertThat(clocks.clock.latest()).isEmpty();
    assertThat(clocks.clock.earliest()).isEmpty();
  }

  @Test
  void boundsTheApiServersClockFromBothSidesAndNarrowsToAboutARoundTrip() {
    Random random = new Random(7);
    for (int run = 0; run < 200; run++) {
      Clocks clocks = new Clocks(1_790_000_000_000_000_000L + random.nextLong(5_000_000_000L));
      for (int answer = 0; answer < 100; answer++) {
        long roundTrip = 1 + random.nextInt(20);
        clocks.answer(roundTrip, random.nextInt((int) roundTrip + 1));
        clocks.pass(random.nextInt(1_500));
        Instant now = clocks.apiNow();
        assertThat(clocks.clock.earliest()).get().matches(t -> !t.isAfter(now), "not after now");
        assertThat(clocks.clock.latest()).get().matches(t -> !t.isBefore(now), "not before now");
      }
      Duration width = clocks.width();
      // A hundred answers at random moments of the second: some came just before and some just
      // after the API server's clock turned a second.
      assertThat(width).as("run %d", run).isLessThan(Duration.ofMillis(200));
    }
  }

  @Test
  void oneAnswerBoundsItWithinASecondAndItsRoundTrip() {
    Clocks clocks = new Clocks(1_790_000_000_400_000_000L);
    clocks.answer(10, 5);
    Duration width = clocks.width();
    // A second, the round trip, and the drift allowed since the request left (microseconds).
    assertThat(width).isBetween(Duration.ofMillis(1_000), Duration.ofMillis(1_011));
  }

  @Test
  void widensWithTheDriftTwoClocksMayHaveSinceTheLastAnswer() {
    Clocks clocks = new Clocks(1_790_000_000_000_000_000L);
    for (int answer = 0; answer < 30; answer++) {
      clocks.answer(2, 1);
      clocks.pass(333);
    }
    Duration before = clocks.width();
    clocks.pass(3_600_000);
    // The API server's clock ran 50 ppm faster during that hour: still within the bounds.
    clocks.apiOffsetNanos += 180 * MS;
    Instant now = clocks.apiNow();
    Duration after = clocks.width();
    assertThat(after.minus(before)).isBetween(Duration.ofMillis(700), Duration.ofMillis(740));
    assertThat(clocks.clock.earliest()).get().matches(t -> !t.isAfter(now));
    assertThat(clocks.clock.latest()).get().matches(t -> !t.isBefore(now));
  }

  @Test
  void followsTheApiServersClockWhenItIsSet() {
    Clocks clocks = new Clocks(1_790_000_000_000_000_000L);
    for (int answer = 0; answer < 10; answer++) {
      clocks.answer(2, 1);
      clocks.pass(300);
    }
    clocks.apiOffsetNanos -= 3_600_000 * MS;
    clocks.answer(2, 1);
    Instant now = clocks.apiNow();
    assertThat(clocks.clock.earliest()).get().matches(t -> !t.isAfter(now));
    assertThat(clocks.clock.latest()).get().matches(t -> !t.isBefore(now));
    assertThat(Duration.between(now, clocks.clock.latest().get()))
        .isLessThan(Duration.ofSeconds(2));
  }

  @Test
  void asksTheApiServerBeforeJudgingOnAnAnswerOlderThanTheProbeInterval() {
    Clocks clocks = new Clocks(1_790_000_000_000_000_000L);
    clocks.answer(2, 1);
    clocks.pass(59_000);
    clocks.clock.earliest();
    clocks.clock.latest();
    assertThat(clocks.probes).hasValue(0);
    clocks.pass(2_000);
    clocks.clock.latest();
    assertThat(clocks.probes).as("a time to stamp is never held up by a probe").hasValue(0);
    clocks.clock.earliest();
    assertThat(clocks.probes).hasValue(1);
  }

  @Test
  void asksAnApiServerThatDoesNotAnswerOnceAnInterval() {
    Clocks clocks = new Clocks(1_790_000_000_000_000_000L);
    for (int caller = 0; caller < 5; caller++) {
      assertThat(clocks.clock.earliest()).isEmpty();
    }
    assertThat(clocks.probes).hasValue(1);
    clocks.pass(61_000);
    clocks.clock.earliest();
    clocks.clock.earliest();
    assertThat(clocks.probes).hasValue(2);
  }
}
