package dev.nimbus.webhook;

import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * When a review reached the webhook, and until when its caller, the API server, waits for the
 * answer (both {@link System#nanoTime()}). The API server says how long it waits in the review's
 * {@code timeout} query parameter, a Go duration ("10s", rounded up to whole seconds): the
 * webhook's {@code timeoutSeconds}, or less when the request under review has less left (a client's
 * {@code --request-timeout}). The answer is due four fifths of the way, leaving the rest for the
 * answer's way back and the rounding, as the chart's decision timeout is four fifths of its webhook
 * timeout.
 */
record ReviewDeadline(long arrived, long callerWaitsUntil) {
  private static final Pattern GO_DURATION_PART =
      Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|us|µs|ns|h|m|s)");

  /**
   * The deadline of a review that arrived at {@code arrived} with the query parameter {@code
   * timeout}, at most {@code longest} after it arrived; without the parameter, or with one that is
   * not a duration, {@code longest}.
   */
  static ReviewDeadline of(long arrived, Optional<String> timeout, Duration longest) {
    Duration answerWithin =
        timeout
            .flatMap(ReviewDeadline::goDuration)
            .map(waits -> waits.multipliedBy(4).dividedBy(5))
            .filter(within -> within.compareTo(longest) < 0)
            .orElse(longest);
    return new ReviewDeadline(arrived, arrived + answerWithin.toNanos());
  }

  /** A Go duration as {@code time.Duration.String()} writes it, if {@code text} is one. */
  static Optional<Duration> goDuration(String text) {
    if (text == null || text.isEmpty()) {
      return Optional.empty();
    }
    Matcher part = GO_DURATION_PART.matcher(text);
    Duration total = Duration.ZERO;
    int end = 0;
    while (part.find() && part.start() == end) {
      double amount = Double.parseDouble(part.group(1));
      long nanosPerUnit =
          switch (part.group(2)) {
            case "h" -> 3_600_000_000_000L;
            case "m" -> 60_000_000_000L;
            case "s" -> 1_000_000_000L;
            case "ms" -> 1_000_000L;
            case "us", "µs" -> 1_000L;
            default -> 1L;
          };
      total = total.plusNanos(Math.round(amount * nanosPerUnit));
      end = part.end();
    }
    return end == text.length() && end > 0 ? Optional.of(total) : Optional.empty();
  }
}
