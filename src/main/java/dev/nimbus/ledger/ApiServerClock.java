package dev.nimbus.ledger;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The API server's clock, as this replica can bound it: every answer of the API server carries its
 * time in a {@code Date} header (whole seconds, truncated), sent between the moment the request
 * left and the moment its answer arrived. Each answer so bounds the API server's clock against this
 * replica's monotonic one from both sides, and the bounds of every answer taken together narrow to
 * about a round trip. They are widened by the drift two clocks may have (100 ppm) since each
 * answer, so a bound never claims more than was seen; an answer outside them (the API server's
 * clock was set, or another API server answered) starts them afresh.
 *
 * <p>A grace period judged with {@link #earliest()} against a time taken with {@link #latest()}, on
 * any replica, never ends before it has on the API server's clock: how long a create may still be
 * stored is the API server's business, and its clock is the one it keeps.
 */
public final class ApiServerClock {
  private static final long SECOND = 1_000_000_000L;
  // Parts per million of drift between two clocks, as a divisor: 100 ppm.
  private static final long DRIFT_DIVISOR = 10_000;

  private final LongSupplier nanoTime;
  private final long origin;
  private final Runnable probe;
  private final Duration probeWhenOlder;
  // The API server's epoch nanoseconds minus this replica's nanoseconds since origin, bounded from
  // below and from above; each as it would stand at the origin, so that one drift widens all of
  // them alike at any later moment (see offset()).
  private long lowKey;
  private long highKey;
  private long lastAnswer;
  private long lastProbe = Long.MIN_VALUE / 2;
  private boolean sampled;

  /**
   * A clock bounded by the answers {@link #observe observed}; {@code probe} asks the API server
   * anything (its answer is observed) when the last answer is older than {@code probeWhenOlder}.
   */
  public ApiServerClock(LongSupplier nanoTime, Runnable probe, Duration probeWhenOlder) {
    this.nanoTime = nanoTime;
    this.origin = nanoTime.getAsLong();
    this.probe = probe;
    this.probeWhenOlder = probeWhenOlder;
  }

  /**
   * An answer sent by the API server at {@code date} (its {@code Date} header) to a request that
   * left at {@code sentNanos} and whose answer arrived at {@code receivedNanos}, both of {@link
   * System#nanoTime()}.
   */
  public synchronized void observe(long sentNanos, long receivedNanos, Instant date) {
    long epoch = date.getEpochSecond() * SECOND;
    long sent = sentNanos - origin;
    long received = receivedNanos - origin;
    // The answer was made at some t in [sent, received], when the API server's clock read a time in
    // [date, date + 1 s): the offset lies in [date - received, date + 1 s - sent]. It may drift
    // from there by as much as the time since t, at most the time since the request left.
    long drift = sent / DRIFT_DIVISOR;
    long low = epoch - received + drift;
    long high = epoch + SECOND - sent - drift;
    if (!sampled || Math.max(low, lowKey) - drift > Math.min(high, highKey) + drift) {
      lowKey = low;
      highKey = high;
    } else {
      lowKey = Math.max(lowKey, low);
      highKey = Math.min(highKey, high);
    }
    lastAnswer = Math.max(lastAnswer, received);
    sampled = true;
  }

  /**
   * A time the API server's clock has certainly reached by now; empty before any answer. Asks the
   * API server first when its last answer is older than the probe interval, so that a replica that
   * rarely writes still judges on a recent answer; once an interval at most, so that an API server
   * that does not answer holds up no more than one caller.
   */
  public Optional<Instant> earliest() {
    if (probeDue()) {
      probe.run();
    }
    return offset().map(o -> o.low);
  }

  /** A time the API server's clock has certainly not passed yet; empty before any answer. */
  public Optional<Instant> latest() {
    return offset().map(o -> o.high);
  }

  private synchronized boolean probeDue() {
    long now = nanoTime.getAsLong() - origin;
    long heard = Math.max(sampled ? lastAnswer : Long.MIN_VALUE / 2, lastProbe);
    if (now - heard <= probeWhenOlder.toNanos()) {
      return false;
    }
    lastProbe = now;
    return true;
  }

  private synchronized Optional<Bounds> offset() {
    if (!sampled) {
      return Optional.empty();
    }
    long now = nanoTime.getAsLong() - origin;
    // Each key is its bound as it stood at the origin: now it is widened by the drift since then,
    // the same for every answer.
    long drift = now / DRIFT_DIVISOR;
    return Optional.of(new Bounds(instant(lowKey - drift + now), instant(highKey + drift + now)));
  }

  private static Instant instant(long epochNanos) {
    return Instant.ofEpochSecond(
        Math.floorDiv(epochNanos, SECOND), Math.floorMod(epochNanos, SECOND));
  }

  private record Bounds(Instant low, Instant high) {}
}
