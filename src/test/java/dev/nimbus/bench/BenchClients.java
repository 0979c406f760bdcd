package dev.nimbus.bench;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
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
  private static final int ATTEMPTS = 5;

  private BenchClients() {}

  /**
   * Creates objects 0 to count - 1; returns creates per second. A create refused with an answer
   * that says to retry (429, or a 5xx from an overloaded API server or webhook) is sent again, as a
   * user would, up to {@link #ATTEMPTS} times, and each refusal is printed.
   */
  static double createAll(KubernetesClient client, int count, IntFunction<HasMetadata> object)
      throws Exception {
    long start = System.nanoTime();
    forEach(count, i -> create(client, object.apply(i)));
    return count / ((System.nanoTime() - start) / 1e9);
  }

  private static void create(KubernetesClient client, HasMetadata object) {
    for (int attempt = 1; ; attempt++) {
      try {
        client.resource(object).create();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409 && attempt > 1) {
          return; // an earlier attempt was stored after all (a timeout after the write)
        }
        boolean retryable = e.getCode() == 429 || e.getCode() >= 500;
        if (!retryable || attempt == ATTEMPTS) {
          throw e;
        }
        System.out.printf(
            "  create of %s refused (%d, attempt %d): %s; sending it again%n",
            object.getMetadata().getName(), e.getCode(), attempt, e.getMessage());
        try {
          Thread.sleep(1000L * attempt);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
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
