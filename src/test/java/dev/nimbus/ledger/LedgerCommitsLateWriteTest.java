package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.nimbus.ledger.LedgerStorage.Versioned;
import dev.nimbus.ledger.LedgerStore.Change;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.IntPredicate;
import java.util.function.Supplier;
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
    // Later writes take what a real write may take (half the decision timeout).
    var held = new FirstWriteHeld(() -> sleep(490));
    LedgerCommits commits = held.storage.commits(3);
    ExecutorService callers = Executors.newFixedThreadPool(2);
    try {
      Future<Boolean> first = callers.submit(() -> commits.change("p", admitting("w0")));
      held.started.await();
      Future<Answer> second =
          callers.submit(() -> Answer.of(() -> commits.change("p", admitting("w1"))));
      // The second change waits for its turn until less than half its timeout is left.
      Thread.sleep(700);
      held.mayEnd.countDown();

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
      held.mayEnd.countDown();
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
    var storage =
        new MapStorage(
            write -> {
              sleep(490); // within the time a real write may take
              return write > 2; // before, another writer came first
            });
    LedgerCommits commits = storage.commits(5);

    Answer answer = Answer.of(() -> commits.change("p", admitting("w")));

    assertThat(answer.millis())
        .as("answered within its timeout")
        .isLessThanOrEqualTo(TIMEOUT.toMillis() + 100);
    assertThat(answer.failure())
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
    var storage = new MapStorage(write -> true);
    LedgerCommits commits = storage.commits(3);

    long askedLongAgo = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(600);
    assertThat(
            catchThrowable(
                () ->
                    commits.change(
                        "p", askedLongAgo, askedLongAgo + TIMEOUT.toNanos(), admitting("late"))))
        .as("asked for 600 ms before it reached the ledger: less than a round of writes is left")
        .isInstanceOf(LedgerStore.ContentionException.class)
        .hasMessageContaining("retry the request");
    assertThat(storage.writes).as("never written").hasValue(0);

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
    var held = new FirstWriteHeld(() -> {});
    LedgerCommits commits = held.storage.commits(3);
    ExecutorService callers = Executors.newFixedThreadPool(2);
    try {
      Future<Boolean> first = callers.submit(() -> commits.change("p", admitting("w0")));
      held.started.await();
      Future<Answer> second =
          callers.submit(
              () -> {
                long asked = System.nanoTime();
                long callerWaitsUntil = asked + TimeUnit.MILLISECONDS.toNanos(200);
                return Answer.of(
                    () -> commits.change("p", asked, callerWaitsUntil, admitting("w1")));
              });
      Thread.sleep(300); // the caller of the second change has stopped waiting
      held.mayEnd.countDown();

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
      held.mayEnd.countDown();
      callers.shutdownNow();
    }
  }

  /** A {@link MapStorage} whose first write lands once let; each later write runs {@code later}. */
  private static final class FirstWriteHeld {
    final CountDownLatch started = new CountDownLatch(1);
    final CountDownLatch mayEnd = new CountDownLatch(1);
    final MapStorage storage;

    FirstWriteHeld(Runnable later) {
      storage =
          new MapStorage(
              write -> {
                if (write == 1) {
                  started.countDown();
                  await(mayEnd);
                } else {
                  later.run();
                }
                return true;
              });
    }
  }

  /**
   * Shards kept in a map. Each write first runs {@code beforeWrite} with its number, from 1, which
   * tells whether it lands (false: another writer came first).
   */
  private static final class MapStorage extends ShardsOnlyStorage {
    final AtomicInteger writes = new AtomicInteger();
    private final Map<String, Versioned> stored = new ConcurrentHashMap<>();
    private final IntPredicate beforeWrite;

    MapStorage(IntPredicate beforeWrite) {
      this.beforeWrite = beforeWrite;
    }

    LedgerCommits commits(int casAttempts) {
      return new LedgerCommits(this, casAttempts, TIMEOUT, anyPool -> Set.of());
    }

    @Override
    public Map<String, Versioned> shards(String pool) {
      return Map.copyOf(stored);
    }

    @Override
    public Versioned write(String pool, String node, Versioned current, String document) {
      int write = writes.incrementAndGet();
      if (!beforeWrite.test(write)) {
        return null;
      }
      Versioned next = new Versioned(Integer.toString(write), document);
      stored.put(node, next);
      return next;
    }
  }

  /** How long a change took to be answered, and the failure it was answered with, if any. */
  private record Answer(long millis, RuntimeException failure) {
    static Answer of(Supplier<?> change) {
      long began = System.nanoTime();
      RuntimeException failure = null;
      try {
        change.get();
      } catch (RuntimeException e) {
        failure = e;
      }
      return new Answer(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), failure);
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Function<Ledger, Change<Boolean>> admitting(String uid) {
    return ledger ->
        Change.write(ledger.with(LedgerEntries.oneInstance(uid, "n", 1000)), Boolean.TRUE);
  }
}
