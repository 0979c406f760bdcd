package dev.nimbus.bench;

import dev.nimbus.testing.RetriedCreate;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/** The benchmarks' clients: {@link #THREADS} threads sending one request per object. */
final class BenchClients {
  static final int THREADS = 8;

  /**
   * A create refused with an answer that says to retry (429, a 5xx from an overloaded API server or
   * webhook, or no answer within the client's timeout) is sent again, up to five times.
   */
  private static final RetriedCreate CREATE =
      new RetriedCreate(code -> code <= 0 || code == 429 || code >= 500, 5, Duration.ofSeconds(1));

  private BenchClients() {}

  /**
   * Creates objects 0 to count - 1, sending again what is refused with "retry" ({@link #CREATE});
   * returns creates per second.
   */
  static double createAll(KubernetesClient client, int count, IntFunction<HasMetadata> object)
      throws Exception {
    long start = System.nanoTime();
    forEach(count, i -> CREATE.send(client, object.apply(i)));
    return count / ((System.nanoTime() - start) / 1e9);
  }

  /** Deletes objects 0 to count - 1, one request each, as {@code kubectl delete} sends them. */
  static void deleteAll(KubernetesClient client, int count, IntFunction<HasMetadata> object)
      throws Exception {
    forEach(count, i -> client.resource(object.apply(i)).delete());
  }

  private interface Call {
    void run(int index);
  }

  private static void forEach(int count, Call call) throws Exception {
    AtomicInteger next = new AtomicInteger();
    ExecutorService threads = Executors.newFixedThreadPool(THREADS);
    List<Future<?>> workers = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      workers.add(
          threads.submit(
              () -> {
                for (int i; (i = next.getAndIncrement()) < count; ) {
                  call.run(i);
                }
                return null;
              }));
    }
    for (Future<?> worker : workers) {
      worker.get();
    }
    threads.shutdown();
  }
}
