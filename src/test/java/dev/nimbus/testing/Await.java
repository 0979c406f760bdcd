package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waiting as the ITs do: for a condition, or for the webhook's caches to know a reference. */
public final class Await {
  private Await() {}

  /** Waits until {@code condition} holds; fails after {@code seconds}. */
  public static void awaitTrue(BooleanSupplier condition, long seconds)
      throws InterruptedException {
    awaitTrue(condition, seconds, () -> "not true");
  }

  /**
   * Waits until {@code condition} holds; fails after {@code seconds}, saying what {@code why} says.
   */
  public static void awaitTrue(BooleanSupplier condition, long seconds, Supplier<String> why)
      throws InterruptedException {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(why.get() + " within " + seconds + " s");
      }
      Thread.sleep(200);
    }
  }

  /**
   * Waits until {@code condition} holds, checking {@code invariant} (which throws when it breaks)
   * every time the condition does not hold yet; fails after {@code seconds}, saying what {@code
   * why} says.
   */
  public static void awaitTrueHolding(
      BooleanSupplier condition, Runnable invariant, long seconds, Supplier<String> why)
      throws InterruptedException {
    awaitTrue(
        () -> {
          if (condition.getAsBoolean()) {
            return true;
          }
          invariant.run();
          return false;
        },
        seconds,
        why);
  }

  /**
   * Creates {@code object}, again while the webhook refuses it for a reference that its caches have
   * not seen yet (a group or key created just before).
   */
  public static <T extends HasMetadata> T createWhenReferencesKnown(
      KubernetesClient client, T object) throws InterruptedException {
    for (int attempt = 0; ; attempt++) {
      try {
        return client.resource(object).create();
      } catch (KubernetesClientException e) {
        if (attempt > 50 || !e.getMessage().contains("does not exist")) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }
}
