package dev.nimbus.ledger;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.Interceptor;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;

/**
 * Tells an {@link ApiServerClock} the time of every answer the API server gives a client: when its
 * request left, when the answer came, and the answer's {@code Date} header. The time a request
 * leaves is kept with the consumer of its answer, which this interceptor wraps last, so that its
 * answer finds it again.
 */
final class ApiServerTimes implements Interceptor {
  static final String NAME = "nimbus-api-server-clock";

  private final ApiServerClock clock;

  ApiServerTimes(ApiServerClock clock) {
    this.clock = clock;
  }

  @Override
  public AsyncBody.Consumer<List<ByteBuffer>> consumer(
      AsyncBody.Consumer<List<ByteBuffer>> consumer, HttpRequest request) {
    return new Sent(consumer, System.nanoTime());
  }

  @Override
  public void after(
      HttpRequest request,
      HttpResponse<?> response,
      AsyncBody.Consumer<List<ByteBuffer>> consumer) {
    long received = System.nanoTime();
    String date = response.header("Date");
    if (consumer instanceof Sent sent && date != null) {
      try {
        Instant at = ZonedDateTime.parse(date, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        clock.observe(sent.at(), received, at);
      } catch (DateTimeParseException e) {
        // Not the API server's own answer (a proxy's, say): nothing to learn from it.
      }
    }
  }

  /** The consumer of an answer, and when its request left. */
  private record Sent(AsyncBody.Consumer<List<ByteBuffer>> delegate, long at)
      implements AsyncBody.Consumer<List<ByteBuffer>> {
    @Override
    public void consume(List<ByteBuffer> value, AsyncBody asyncBody) throws Exception {
      delegate.consume(value, asyncBody);
    }

    @Override
    public <U> U unwrap(Class<U> target) {
      return delegate.unwrap(target);
    }
  }
}
