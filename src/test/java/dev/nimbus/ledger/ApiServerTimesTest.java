package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.HttpClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The interceptor on the operator's own HTTP client, as the ledger's client is built: each answer's
 * {@code Date} header reaches the clock with the moments its request left and its answer came, and
 * an answer whose date cannot be read teaches it nothing.
 */
class ApiServerTimesTest {
  private static final Instant DATE = Instant.parse("2031-07-01T12:00:00Z");

  @Test
  void anAnswersDateBoundsTheClockAroundIt() throws Exception {
    ApiServerClock clock = answeredWith("Tue, 01 Jul 2031 12:00:00 GMT");

    // The header says 12:00:00 to the second; the answer came within the round trip.
    assertThat(clock.earliest().orElseThrow()).isBetween(DATE.minusSeconds(1), DATE.plusSeconds(2));
    assertThat(clock.latest().orElseThrow()).isBetween(DATE, DATE.plusSeconds(3));
  }

  @Test
  void anAnswerWhoseDateIsNotOneTeachesNothing() throws Exception {
    assertThat(answeredWith("yesterday, around noon").latest()).isEmpty();
  }

  /** The clock after one answer of a server that sends {@code date} as its Date header. */
  private static ApiServerClock answeredWith(String date) throws Exception {
    ApiServerClock clock = new ApiServerClock(System::nanoTime, () -> {}, Duration.ofHours(1));
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        KubernetesClient client =
            new KubernetesClientBuilder()
                .withConfig(
                    new ConfigBuilder()
                        .withMasterUrl("http://127.0.0.1:" + server.getLocalPort())
                        .build())
                .build()) {
      Thread answering = new Thread(() -> answerOnce(server, date));
      answering.start();
      HttpClient http =
          client
              .getHttpClient()
              .newBuilder()
              .addOrReplaceInterceptor(ApiServerTimes.NAME, new ApiServerTimes(clock))
              .build();
      var answer =
          http.sendAsync(
                  http.newHttpRequestBuilder()
                      .uri("http://127.0.0.1:" + server.getLocalPort() + "/version")
                      .build(),
                  String.class)
              .get(10, TimeUnit.SECONDS);
      assertThat(answer.code()).isEqualTo(200);
      answering.join(10_000);
      http.close();
    }
    return clock;
  }

  private static void answerOnce(ServerSocket server, String date) {
    try (Socket socket = server.accept()) {
      var request =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
      for (String line = request.readLine(); line != null && !line.isEmpty(); ) {
        line = request.readLine();
      }
      OutputStream out = socket.getOutputStream();
      out.write(
          ("HTTP/1.1 200 OK\r\nDate: "
                  + date
                  + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                  + "Connection: close\r\n\r\n{}")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
