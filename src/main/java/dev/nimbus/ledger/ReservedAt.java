package dev.nimbus.ledger;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

/**
 * When a reservation was made, as its ledger entry records it: a time on the API server's clock
 * (written {@code api-server:} and the time, a bound it had not passed yet when the entry was
 * decided), or the time of the replica that decided it, when that replica had no answer of the API
 * server to bound its clock with yet (as every entry of earlier versions). Replicas of earlier
 * versions carry the value as it is, without reading it.
 */
public record ReservedAt(Instant time, boolean onApiServer) {
  private static final String API_SERVER = "api-server:";

  /** {@code time} on the API server's clock, rounded up to the millisecond. */
  public static ReservedAt onApiServer(Instant time) {
    Instant millis = time.truncatedTo(ChronoUnit.MILLIS);
    return new ReservedAt(millis.equals(time) ? time : millis.plusMillis(1), true);
  }

  /** {@code time} on this replica's clock. */
  public static ReservedAt onThisReplica(Instant time) {
    return new ReservedAt(time, false);
  }

  /** The time on the API server's clock that {@code stored} records; empty for any other. */
  public static Optional<Instant> apiServerTime(String stored) {
    if (stored == null || !stored.startsWith(API_SERVER)) {
      return Optional.empty();
    }
    try {
      return Optional.of(Instant.parse(stored.substring(API_SERVER.length())));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  /** As the entry stores it. */
  public String stored() {
    return onApiServer ? API_SERVER + time : time.toString();
  }
}
