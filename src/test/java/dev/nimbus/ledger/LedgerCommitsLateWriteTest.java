package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.nimbus.ledger.LedgerStorage.Versioned;
import dev.nimbus.ledger.LedgerStore.Change;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A change whose caller is answered "retry" must not be written after that answer: the API server
 * has then refused the create (or the client retries it under a new UID), and a reservation written
 * later holds room for an object that is never stored until the orphan grace ends — room the retry
 * itself is then refused for. A change that waited for its turn until less than one write's time is
 * left is therefore answered at once and never written.
 */
class LedgerCommitsLateWriteTest {
  private static final Duration TIMEOUT = Duration.ofMillis(1_000);

  @Test
  void aChangeThatWaitedUntilAWriteCouldOutlastItsCallerIsAnsweredRetryAndNeverWritten()
      throws Exception {
    CountDownLatch firstWriteStarted = new CountDownLatch(1);
    CountDownLatch firstWriteMayEnd = new CountDownLatch(1);
    AtomicInteger writes = new AtomicInteger();
    Map<String, Versioned> stored = new ConcurrentHashMap<>();
    LedgerStorage storage =
        new ShardsOnlyStorage() {
          @Override
          public Map<String, Versioned> shards(String pool) {
            return Map.copyOf(stored);
          }

          @Override
          public Versioned write(String pool, String node, Versioned current, String document) {
            try {
              if (writes.incrementAndGet() == 1) {
                firstWriteStarted.countDown();
                firstWriteMayEnd.await();
              } else {
                // Within the time a real write may take (half the decision timeout).
                Thread.sleep(490);
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            Versioned next = new Versioned(Integer.toString(writes.get()), document);
            stored.put(node, next);
            return next;
          }
        };
    LedgerCommits commits = new LedgerCommits(storage, 3, TIMEOUT, anyPool -> java.util.Set.of());
    ExecutorService callers = Executors.newFixedThreadPool(2);
    try {
      Future<Boolean> first = callers.submit(() -> commits.change("p", admitting("w0")));
      firstWriteStarted.await();
      Future<Answer> second =
          callers.submit(
              () -> {
                long began = System.nanoTime();
                RuntimeException failure = null;
                try {
                  commits.change("p", admitting("w1"));
                } catch (RuntimeException e) {
                  failure = e;
                }
                return new Answer(
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), failure);
              });
      // The second change waits for its turn until less than half its timeout is left.
      Thread.sleep(700);
      firstWriteMayEnd.countDown();

      assertThat(first.get(5, TimeUnit.SECONDS)).isTrue();
      Answer answer = second.get(5, TimeUnit.SECONDS);
      assertThat(answer.millis())
          .as("the second change is answered within its timeout")
          .isLessThanOrEqualTo(TIMEOUT.toMillis() + 100);
      assertThat(answer.failure())
          .isInstanceOf(LedgerStore.ContentionException.class)
          .hasMessageContaining("retry the request");
      Thread.sleep(600); // past any write that was still on its way
      assertThat(commits.read("p").entry("w1"))
          .as("the change answered 'retry' is not written after its answer")
          .isNull();
      assertThat(commits.read("p").entry("w0")).isNotNull();
    } finally {
      firstWriteMayEnd.countDown();
      callers.shutdownNow();
    }
  }

  /**
   * The same holds for a change whose writes lose their races: one that another writer beat until
   * less than a round of writes is left is answered "retry" then, not written in a round that ends
   * after its timeout.
   */
  @Test
  void aChangeWhoseWritesLostRacesUntilLittleTimeIsLeftIsAnsweredRetryAndNeverWritten() {
    AtomicInteger writes = new AtomicInteger();
    Map<String, Versioned> stored = new ConcurrentHashMap<>();
    LedgerStorage storage =
        new ShardsOnlyStorage() {
          @Override
          public Map<String, Versioned> shards(String pool) {
            return Map.copyOf(stored);
          }

          @Override
          public Versioned write(String pool, String node, Versioned current, String document) {
            try {
              Thread.sleep(490); // within the time a real write may take
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            if (writes.incrementAndGet() <= 2) {
              return null; // another writer came first
            }
            Versioned next = new Versioned(Integer.toString(writes.get()), document);
            stored.put(node, next);
            return next;
          }
        };
    LedgerCommits commits = new LedgerCommits(storage, 5, TIMEOUT, anyPool -> java.util.Set.of());

    long began = System.nanoTime();
    RuntimeException failure = null;
    try {
      commits.change("p", admitting("w"));
    } catch (RuntimeException e) {
      failure = e;
    }

    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began))
        .as("answered within its timeout")
        .isLessThanOrEqualTo(TIMEOUT.toMillis() + 100);
    assertThat(failure)
        .isInstanceOf(LedgerStore.ContentionException.class)
        .hasMessageContaining("retry the request");
    assertThat(commits.read("p").entry("w")).as("never written").isNull();
  }

  /**
   * A review can wait in the webhook's HTTP server before its change reaches the ledger, and the
   * API server's timeout runs from when it sent the review: the timeout counts from when the change
   * was asked for, so one asked for too long ago to be written in time is answered at once,
   * unwritten.
   */
  @Test
  void aChangeCountsItsTimeoutFromWhenItWasAskedFor() {
    AtomicInteger writes = new AtomicInteger();
    Map<String, Versioned> stored = new ConcurrentHashMap<>();
    LedgerStorage storage =
        new ShardsOnlyStorage() {
          @Override
          public Map<String, Versioned> shards(String pool) {
            return Map.copyOf(stored);
          }

          @Override
          public Versioned write(String pool, String node, Versioned current, String document) {
            writes.incrementAndGet();
            Versioned next = new Versioned(Integer.toString(writes.get()), document);
            stored.put(node, next);
            return next;
          }
        };
    LedgerCommits commits = new LedgerCommits(storage, 3, TIMEOUT, anyPool -> java.util.Set.of());

    long askedLongAgo = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(600);
    assertThat(
            catchThrowable(
                () ->
                    commits.change(
                        "p", askedLongAgo, askedLongAgo + TIMEOUT.toNanos(), admitting("late"))))
        .as("asked for 600 ms before it reached the ledger: less than a round of writes is left")
        .isInstanceOf(LedgerStore.ContentionException.class)
        .hasMessageContaining("retry the request");
    assertThat(writes).as("never written").hasValue(0);

    long askedJustNow = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(100);
    assertThat(
            commits.change(
                "p", askedJustNow, askedJustNow + TIMEOUT.toNanos(), admitting("in-time")))
        .isTrue();
    assertThat(commits.read("p").entry("in-time")).isNotNull();
  }

  /**
   * The API server waits for the webhook no longer than the request it reviews may last: a client
   * with a short timeout (kubectl's --request-timeout) gives the webhook less than the ledger's
   * timeout. A change whose caller stops waiting before it gets its turn is answered then, and
   * never written afterwards, for no one would take its answer.
   */
  @Test
  void aChangeIsNeverWrittenAfterItsCallerStoppedWaiting() throws Exception {
    CountDownLatch firstWriteStarted = new CountDownLatch(1);
    CountDownLatch firstWriteMayEnd = new CountDownLatch(1);
    AtomicInteger writes = new AtomicInteger();
    Map<String, Versioned> stored = new ConcurrentHashMap<>();
    LedgerStorage storage =
        new ShardsOnlyStorage() {
          @Override
          public Map<String, Versioned> shards(String pool) {
            return Map.copyOf(stored);
          }

          @Override
          public Versioned write(String pool, String node, Versioned current, String document) {
            if (writes.incrementAndGet() == 1) {
              firstWriteStarted.countDown();
              try {
                firstWriteMayEnd.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            Versioned next = new Versioned(Integer.toString(writes.get()), document);
            stored.put(node, next);
            return next;
          }
        };
    LedgerCommits commits = new LedgerCommits(storage, 3, TIMEOUT, anyPool -> java.util.Set.of());
    ExecutorService callers = Executors.newFixedThreadPool(2);
    try {
      Future<Boolean> first = callers.submit(() -> commits.change("p", admitting("w0")));
      firstWriteStarted.await();
      Future<Answer> second =
          callers.submit(
              () -> {
                long asked = System.nanoTime();
                long callerWaitsUntil = asked + TimeUnit.MILLISECONDS.toNanos(200);
                RuntimeException failure = null;
                try {
                  commits.change("p", asked, callerWaitsUntil, admitting("w1"));
                } catch (RuntimeException e) {
                  failure = e;
                }
                return new Answer(
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked), failure);
              });
      Thread.sleep(300); // the caller of the second change has stopped waiting
      firstWriteMayEnd.countDown();

      assertThat(first.get(5, TimeUnit.SECONDS)).isTrue();
      Answer answer = second.get(5, TimeUnit.SECONDS);
      assertThat(answer.millis())
          .as("answered when its caller stops waiting")
          .isLessThanOrEqualTo(200 + 100);
      assertThat(answer.failure())
          .isInstanceOf(LedgerStore.ContentionException.class)
          .hasMessageContaining("before the API server stops waiting for the answer (200 ms")
          .hasMessageContaining("retry the request");
      Thread.sleep(300); // past any write that was still on its way
      assertThat(commits.read("p").entry("w1")).as("never written").isNull();
    } finally {
      firstWriteMayEnd.countDown();
      callers.shutdownNow();
    }
  }

  /** How long a change took to be answered, and the failure it was answered with, if any. */
  private record Answer(long millis, RuntimeException failure) {}

  private static java.util.function.Function<Ledger, Change<Boolean>> admitting(String uid) {
    return ledger ->
        Change.write(ledger.with(LedgerEntries.oneInstance(uid, "n", 1000)), Boolean.TRUE);
  }
}
