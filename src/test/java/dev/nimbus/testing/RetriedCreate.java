package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.function.IntPredicate;

/**
 * A create sent again, as a user's client would, while its answer says to retry: which answers
 * count as "retry" and how often differ between a test (which must see a 500 as a failure) and a
 * benchmark (which must survive an overloaded API server). A create that an earlier attempt stored
 * after all (a timeout after the write) is found taken, 409, and counts as done.
 *
 * @param retryable the HTTP codes (0 for no answer: a client timeout) that are sent again
 * @param attempts how many times a create is sent at most
 * @param pause the wait before the second attempt; the n-th waits n - 1 times as long
 */
public record RetriedCreate(IntPredicate retryable, int attempts, Duration pause) {

  /** Sends {@code object} until stored, or throws the last refusal. Prints every refusal. */
  public void send(KubernetesClient client, HasMetadata object) {
    for (int attempt = 1; ; attempt++) {
      try {
        client.resource(object).create();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409 && attempt > 1) {
          return;
        }
        if (!retryable.test(e.getCode()) || attempt == attempts) {
          throw e;
        }
        System.out.printf(
            "  create of %s refused (%d, attempt %d): %s; sending it again%n",
            object.getMetadata().getName(), e.getCode(), attempt, e.getMessage());
        try {
          Thread.sleep(pause.toMillis() * attempt);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }
}
