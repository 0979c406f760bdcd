package dev.nimbus.ledger;

import dev.nimbus.ledger.LedgerStore.Change;
import dev.nimbus.ledger.LedgerStore.ContentionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Changes ledgers in {@link LedgerStorage} with one compare-and-swap per write, committing the
 * changes that arrive together as one write (group commit), and answering every change within its
 * timeout.
 *
 * <p>The thread that holds a pool's lock decides every waiting change in arrival order, each on the
 * ledger the previous ones left, and writes once; a lost race re-decides the whole group on the
 * ledger as stored then, so no decision is ever made on a state that was not written. Every change
 * is answered: with its result, with the failure of the read or the write that carried it, or, once
 * its timeout has passed, with a {@link ContentionException} that asks the caller to retry. A
 * change that times out before a committer took it is never written; one that a committer had taken
 * may still be written after its caller gave up (the caller cannot tell), and is then an orphan
 * that the pool's controller releases.
 */
public final class LedgerCommits {
  private final LedgerStorage storage;
  private final int casAttempts;
  private final Duration timeout;
  private final Map<String, Group> groups = new ConcurrentHashMap<>();

  public LedgerCommits(LedgerStorage storage, int casAttempts, Duration timeout) {
    this.storage = storage;
    this.casAttempts = casAttempts;
    this.timeout = timeout;
  }

  /** The ledger of {@code pool} as stored now. */
  public Ledger read(String pool) {
    LedgerStorage.Versioned stored = storage.read(pool);
    return stored == null ? Ledger.empty(pool) : LedgerCodec.decode(pool, stored.document());
  }

  /**
   * Applies {@code decide} to the current ledger and writes what it returns, atomically with
   * respect to every other writer. {@code decide} may run several times and must not have side
   * effects.
   */
  public <T> T change(String pool, Function<Ledger, Change<T>> decide) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Pending<T> mine = new Pending<>(decide);
    Group group = groups.computeIfAbsent(pool, p -> new Group());
    group.waiting.add(mine);
    boolean locked;
    try {
      locked = group.lock.tryLock(remaining(deadline), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      locked = false;
    }
    if (locked) {
      try {
        // Unless a committer before took it, this change is still waiting: commit the group.
        if (!mine.future.isDone()) {
          commit(pool, drain(group), deadline);
        }
      } finally {
        group.lock.unlock();
      }
    } else if (mine.abandon()) {
      throw ContentionException.busy(pool, timeout);
    }
    return answer(pool, mine, deadline);
  }

  private static List<Pending<?>> drain(Group group) {
    List<Pending<?>> batch = new ArrayList<>();
    for (Pending<?> next; (next = group.waiting.poll()) != null; ) {
      if (next.take()) {
        batch.add(next);
      }
    }
    return batch;
  }

  private <T> T answer(String pool, Pending<T> mine, long deadline) {
    try {
      return mine.future.get(remaining(deadline), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw ContentionException.busy(pool, timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ContentionException.busy(pool, timeout);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (e.getCause() instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException(e.getCause());
    }
  }

  private void commit(String pool, List<Pending<?>> batch, long deadline) {
    try {
      for (int attempt = 1; attempt <= casAttempts; attempt++) {
        LedgerStorage.Versioned current = storage.read(pool);
        Ledger read =
            current == null ? Ledger.empty(pool) : LedgerCodec.decode(pool, current.document());
        Ledger ledger = read;
        for (Pending<?> pending : batch) {
          ledger = pending.decide(ledger);
        }
        if (ledger.equals(read) || storage.write(pool, current, LedgerCodec.encode(ledger))) {
          batch.forEach(Pending::complete);
          return;
        }
        if (remaining(deadline) == 0) {
          fail(batch, ContentionException.busy(pool, timeout));
          return;
        }
        backOff(attempt);
      }
      fail(batch, ContentionException.lostRaces(pool, casAttempts));
    } catch (RuntimeException | Error e) {
      // A failed read or write (an API error, a ledger that cannot be decoded) answers every
      // change of the batch with the failure: none of them may wait for an answer it never gets.
      fail(batch, e);
    }
  }

  private static void fail(List<Pending<?>> batch, Throwable failure) {
    batch.forEach(pending -> pending.future.completeExceptionally(failure));
  }

  private static long remaining(long deadline) {
    return Math.max(0, deadline - System.nanoTime());
  }

  private static void backOff(int attempt) {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(1, 5L * Math.min(attempt, 10)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while retrying a ledger write", e);
    }
  }

  /** The changes of one pool waiting for the next group commit, and the lock that orders them. */
  private static final class Group {
    final ReentrantLock lock = new ReentrantLock(true);
    final Queue<Pending<?>> waiting = new ConcurrentLinkedQueue<>();
  }

  /** One caller's change, its result in the attempt being decided, and its answer. */
  private static final class Pending<T> {
    private static final int WAITING = 0;
    private static final int TAKEN = 1;
    private static final int ABANDONED = 2;

    final Function<Ledger, Change<T>> decide;
    final CompletableFuture<T> future = new CompletableFuture<>();
    private final AtomicInteger state = new AtomicInteger(WAITING);
    private T result;
    private RuntimeException failure;

    Pending(Function<Ledger, Change<T>> decide) {
      this.decide = decide;
    }

    /** A committer takes this change into its batch, unless its caller gave up first. */
    boolean take() {
      return state.compareAndSet(WAITING, TAKEN);
    }

    /** The caller gives up, unless a committer took this change already. */
    boolean abandon() {
      return state.compareAndSet(WAITING, ABANDONED);
    }

    /** Decides on {@code ledger} and returns the ledger to hand to the next change. */
    Ledger decide(Ledger ledger) {
      try {
        Change<T> change = decide.apply(ledger);
        result = change.result();
        failure = null;
        return change.next().orElse(ledger);
      } catch (RuntimeException e) {
        failure = e;
        return ledger;
      }
    }

    void complete() {
      if (failure != null) {
        future.completeExceptionally(failure);
      } else {
        future.complete(result);
      }
    }
  }
}
