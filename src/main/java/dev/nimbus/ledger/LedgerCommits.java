package dev.nimbus.ledger;

import dev.nimbus.ledger.LedgerStore.Change;
import dev.nimbus.ledger.LedgerStore.ContentionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Changes ledgers in {@link LedgerStorage}, kept as one shard per node ({@link LedgerShards}), with
 * one compare-and-swap per shard written, committing the changes that arrive together as one round
 * of writes (group commit), and answering every change within its timeout.
 *
 * <p>The thread that holds a pool's lock decides every waiting change in arrival order, each on the
 * ledger the previous ones left, and writes the shards of the nodes they changed, each over the
 * version it was decided on. A node's capacity is judged on its own shard only, and a shard is
 * written only over the exact version its decisions read, so every state a shard ever holds keeps
 * its node within {@code P × R}, whichever replica writes it and however stale the other shards it
 * read were.
 *
 * <p>A change whose shards were all written is answered with its result. A change with a shard that
 * another writer changed first is decided again on the shards as they are then, with what it wrote
 * to its other shards put back as it was; so are the changes that wrote nothing (a denial may have
 * been decided on a reservation that was not written). Every change is answered: with its result,
 * with the failure of a write that carried it, or, once its timeout has passed, with a {@link
 * ContentionException} that asks the caller to retry. A change that times out before a committer
 * took it is never written; one that a committer had taken may still be written, wholly or in part,
 * after its caller gave up (the caller cannot tell), and is then an orphan that the pool's
 * controller releases.
 *
 * <p>A pool that an earlier Nimbus admitted into keeps its ledger as one document; before it
 * decides anything in that pool, a commit copies that document's entries into shards and retires it
 * ({@link #moveLegacy}).
 */
public final class LedgerCommits {
  /** Shard writes in flight at once, over all pools. */
  private static final int PARALLEL_WRITES = 16;

  private final LedgerStorage storage;
  private final Function<String, Set<String>> placedNodes;
  private final int casAttempts;
  private final Duration timeout;
  // The longest a round of writes takes (one storage call), with a tenth of the timeout for
  // deciding and answering: a change is written only while that much of its time is left, so that
  // nothing is written after its caller was answered.
  private final long writeNanos;
  private final Map<String, Group> groups = new ConcurrentHashMap<>();
  private final Map<String, DecodedShard> decodedShards = new ConcurrentHashMap<>();
  private final Map<String, Snapshot> snapshots = new ConcurrentHashMap<>();
  private final ThreadPoolExecutor writers;

  /**
   * {@code placedNodes} tells the nodes of a pool that stored workloads' statuses place instances
   * on: one of them without a shard lost it while no replica watched.
   */
  public LedgerCommits(
      LedgerStorage storage,
      int casAttempts,
      Duration timeout,
      Function<String, Set<String>> placedNodes) {
    this.storage = storage;
    this.placedNodes = placedNodes;
    this.casAttempts = casAttempts;
    this.timeout = timeout;
    this.writeNanos = LedgerStorage.callTimeout(timeout).plus(timeout.dividedBy(10)).toNanos();
    // Blocking API writes, a round's shards at once; idle threads end, so nothing needs closing.
    AtomicInteger named = new AtomicInteger();
    this.writers =
        new ThreadPoolExecutor(
            PARALLEL_WRITES,
            PARALLEL_WRITES,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            work -> {
              Thread thread = new Thread(work, "ledger-writer-" + named.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    this.writers.allowCoreThreadTimeOut(true);
  }

  /** The ledger of {@code pool} as stored now. */
  public Ledger read(String pool) {
    return withLegacy(pool, stored(pool).ledger());
  }

  /**
   * The ledger of {@code pool} as this replica knows it: its own writes at once, other replicas' as
   * soon as it sees them. Assembled again only when a shard changed.
   */
  public Ledger recent(String pool) {
    return withLegacy(pool, known(pool).ledger());
  }

  /**
   * Applies {@code decide} to the current ledger and writes what it returns, atomically with
   * respect to every other writer. {@code decide} may run several times and must not have side
   * effects.
   */
  public <T> T change(String pool, Function<Ledger, Change<T>> decide) {
    long now = System.nanoTime();
    return change(pool, now, now + timeout.toNanos(), decide);
  }

  /**
   * {@link #change(String, Function)} for a change asked for at {@code asked}, whose caller waits
   * for its answer until {@code callerWaitsUntil} (both {@link System#nanoTime()}). Its timeout
   * counts from when it was asked for: a review that waited in the webhook's HTTP server has less
   * left of the API server's timeout than a change made now. And it is written only while its
   * caller still waits: the API server waits for the webhook no longer than the request it reviews
   * may last, which a client can make shorter than the ledger's timeout.
   */
  public <T> T change(
      String pool, long asked, long callerWaitsUntil, Function<Ledger, Change<T>> decide) {
    long deadline = asked + timeout.toNanos();
    long answerBy = callerWaitsUntil - deadline < 0 ? callerWaitsUntil : deadline;
    Pending<T> mine =
        new Pending<>(
            decide,
            deadline,
            answerBy,
            answerBy == deadline
                ? () -> ContentionException.busy(pool, timeout)
                : () ->
                    ContentionException.callerStopsWaiting(
                        pool, Duration.ofNanos(answerBy - asked)));
    Group group = groups.computeIfAbsent(pool, p -> new Group());
    group.waiting.add(mine);
    boolean locked;
    try {
      // Past this, a round of writes could outlast the caller: waiting longer would only end in a
      // "retry" answered later.
      locked =
          group.lock.tryLock(
              Math.max(0, Math.min(remaining(deadline) - writeNanos, remaining(answerBy))),
              TimeUnit.NANOSECONDS);
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
      throw mine.tooLate.get();
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
      moveLegacy(pool, deadline);
      write(pool, batch, deadline);
    } catch (RuntimeException | Error e) {
      // A failed read or write (an API error, a shard that cannot be decoded) answers every
      // change of the batch that is not answered yet: none may wait for an answer it never gets.
      fail(batch, e);
    }
  }

  /**
   * Decides {@code batch} and writes the shards it changed, until every change is answered, the
   * attempts are spent or the deadline has passed.
   */
  private void write(String pool, List<Pending<?>> batch, long deadline) {
    List<Pending<?>> remaining = batch;
    // Entries that a change wrote to some of its shards and not to others: what each held before.
    Map<String, Optional<LedgerEntry>> putBack = new HashMap<>();
    // The nodes those entries spanned when they were written in part: all of them are written
    // again, over the versions the retry reads, even where its view (which may lag behind what was
    // written) shows nothing to change; a stale view then fails its compare-and-swap instead of
    // letting a change be answered while a shard holds a part that an earlier attempt wrote.
    Map<String, Set<String>> putBackNodes = new HashMap<>();
    for (int attempt = 1; attempt <= casAttempts; attempt++) {
      Snapshot read = known(pool);
      remaining = withTimeToWrite(pool, remaining);
      if (remaining.isEmpty()) {
        return;
      }
      Ledger stored = read.ledger();
      Ledger ledger = putBack(stored, putBack);
      Map<Pending<?>, Set<String>> touched = new IdentityHashMap<>();
      for (Pending<?> pending : remaining) {
        Ledger before = ledger;
        ledger = pending.decide(ledger);
        touched.put(pending, changedUids(before, ledger));
      }
      Set<String> uids = new HashSet<>(changedUids(stored, ledger));
      uids.addAll(putBack.keySet());
      Map<String, Set<String>> nodesByUid = new HashMap<>();
      Set<String> nodes = new TreeSet<>();
      // Nodes an entry names whose shard, as this replica knows it, holds no part of it: written
      // over that version even when nothing changes there, so that a change is never decided on an
      // entry with a part this replica has not seen yet.
      Set<String> unseen = new HashSet<>();
      for (String uid : uids) {
        Set<String> held = nodesOf(stored.entry(uid));
        Set<String> of = new HashSet<>(held);
        of.addAll(nodesOf(ledger.entry(uid)));
        for (String node : held) {
          for (String named : read.shards().get(node).reservations().get(uid).nodes()) {
            if (!held.contains(named) && read.shards().containsKey(named)) {
              unseen.add(named);
              of.add(named);
            }
          }
        }
        // Every shard an earlier attempt wrote is written over the version this view knows, even
        // where the view shows the part wanted: a view that lags may show what an attempt before
        // the last one wrote there, and the compare-and-swap then fails instead of skipping.
        for (String node : putBackNodes.getOrDefault(uid, Set.of())) {
          of.add(node);
          unseen.add(node);
        }
        nodesByUid.put(uid, of);
        nodes.addAll(of);
      }
      Set<String> failed = new HashSet<>();
      RuntimeException error = null;
      // What a lost shard held is not known: nothing is written there until it is rebuilt. A
      // change that gives back what it held there has nothing to write; one that places on it
      // (decided on a model that still had the node) is never answered as written.
      for (String node : stored.lostNodes()) {
        if (nodes.remove(node)
            && uids.stream()
                .map(ledger::entry)
                .anyMatch(e -> e != null && nodesOf(e).contains(node))) {
          failed.add(node);
        }
      }
      // The shards are written at once, each its own compare-and-swap: a round takes as long as
      // its slowest write, not the sum of them (a batch of 32 admissions on 32 nodes is 32 writes).
      Ledger decided = ledger;
      Map<String, CompletableFuture<Boolean>> writes = new LinkedHashMap<>();
      for (String node : nodes) {
        boolean verify = unseen.contains(node);
        Supplier<Boolean> write = () -> writeShard(pool, node, read, uids, decided, verify);
        writes.put(
            node,
            nodes.size() == 1 ? inline(write) : CompletableFuture.supplyAsync(write, writers));
      }
      for (var write : writes.entrySet()) {
        try {
          if (!write.getValue().join()) {
            failed.add(write.getKey());
          }
        } catch (CompletionException e) {
          failed.add(write.getKey());
          if (e.getCause() instanceof RuntimeException cause) {
            error = error != null ? error : cause;
          } else if (e.getCause() instanceof Error fatal) {
            throw fatal;
          } else {
            throw e;
          }
        }
      }
      List<Pending<?>> retry = new ArrayList<>();
      for (Pending<?> pending : remaining) {
        Set<String> mine = touched.get(pending);
        boolean written =
            failed.isEmpty()
                || (!mine.isEmpty()
                    && mine.stream()
                        .noneMatch(
                            uid -> intersects(nodesByUid.getOrDefault(uid, Set.of()), failed)));
        if (written) {
          pending.complete();
        } else if (error != null) {
          pending.future.completeExceptionally(error);
        } else {
          retry.add(pending);
        }
      }
      Ledger current = null;
      for (String uid : uids) {
        Set<String> of = nodesByUid.get(uid);
        if (!intersects(of, failed)) {
          putBack.remove(uid); // stored whole, as decided
          putBackNodes.remove(uid);
        } else if (!failed.containsAll(of) || putBack.containsKey(uid)) {
          if (!putBack.containsKey(uid)) {
            // What the entry held before this write: where the write went through, the view
            // was the stored version; where it failed, the view may lag, so read it as stored.
            current = current != null ? current : stored(pool).ledger();
            putBack.put(uid, Optional.ofNullable(before(uid, stored, current, failed)));
          }
          putBackNodes.computeIfAbsent(uid, u -> new HashSet<>()).addAll(of);
        }
      }
      if (retry.isEmpty() || error != null) {
        return;
      }
      if (remaining(deadline) == 0) {
        fail(retry, ContentionException.busy(pool, timeout));
        return;
      }
      remaining = retry;
      backOff(attempt);
    }
    fail(remaining, ContentionException.lostRaces(pool, casAttempts));
  }

  /**
   * The changes of {@code batch} with time left for a round of writes; the others are answered
   * "retry" now and never written. A change written after its caller gave up would hold room for an
   * object the API server never stores (it was refused, or is retried as another), and could make
   * the retry itself be refused for that room.
   */
  private List<Pending<?>> withTimeToWrite(String pool, List<Pending<?>> batch) {
    List<Pending<?>> timely = new ArrayList<>(batch.size());
    for (Pending<?> pending : batch) {
      if (remaining(pending.deadline) >= writeNanos && remaining(pending.answerBy) > 0) {
        timely.add(pending);
      } else {
        pending.future.completeExceptionally(pending.tooLate.get());
      }
    }
    return timely;
  }

  /**
   * Writes the shard of {@code node} with the entries of {@code uids} as {@code next} holds them,
   * over the version {@code read} knows; returns false when another write came first.
   */
  private boolean writeShard(
      String pool, String node, Snapshot read, Set<String> uids, Ledger next, boolean verify) {
    LedgerShards.Shard current = read.shards().getOrDefault(node, LedgerShards.Shard.empty(node));
    LedgerShards.Shard shard = LedgerShards.withEntries(current, uids, next);
    LedgerStorage.Versioned version = read.versions().get(node);
    String document = LedgerShards.encode(shard);
    if (!verify
        && (version == null
            ? shard.reservations().isEmpty()
            : document.equals(version.document()))) {
      return true;
    }
    return storage.write(pool, node, version, document) != null;
  }

  /**
   * Moves the legacy ledger of {@code pool}, one document for the whole pool, into shards before
   * anything is decided in the pool. First it is retired, with a compare-and-swap, so that a
   * replica of an earlier Nimbus still running during an upgrade can no longer admit on it; its
   * reservations are then frozen. Then each node's part is copied into that node's shard, which is
   * marked as holding it in the same write: a shard is copied into once, so a reservation released
   * after its copy is never brought back by a replica that read the legacy ledger earlier. Until
   * every shard that has a part holds it, nothing is decided.
   */
  private void moveLegacy(String pool, long deadline) {
    if (!storage.mayHaveLegacy(pool)) {
      return;
    }
    LedgerStorage.Legacy legacy = storage.legacy(pool);
    for (int attempt = 1; legacy != null && !legacy.retired(); attempt++) {
      if (attempt > casAttempts) {
        throw ContentionException.lostRaces(pool, casAttempts);
      }
      if (!storage.retireLegacy(pool, legacy)) {
        legacy = storage.legacy(pool);
      } else {
        legacy = new LedgerStorage.Legacy(legacy.version(), legacy.document(), true);
      }
    }
    if (legacy == null) {
      return;
    }
    Ledger frozen = LedgerCodec.decode(pool, legacy.document());
    Set<String> nodes = new TreeSet<>();
    frozen.entries().values().forEach(entry -> nodes.addAll(nodesOf(entry)));
    for (int attempt = 1; attempt <= casAttempts; attempt++) {
      Snapshot read = known(pool);
      boolean copied = true;
      for (String node : nodes) {
        LedgerShards.Shard shard = read.shards().getOrDefault(node, LedgerShards.Shard.empty(node));
        if (!shard.holdsLegacy()
            && storage.write(
                    pool,
                    node,
                    read.versions().get(node),
                    LedgerShards.encode(LedgerShards.withLegacy(shard, frozen)))
                == null) {
          copied = false;
        }
      }
      if (copied) {
        storage.legacyCopied(pool);
        return;
      }
      if (remaining(deadline) == 0) {
        throw ContentionException.busy(pool, timeout);
      }
      backOff(attempt);
    }
    throw ContentionException.lostRaces(pool, casAttempts);
  }

  /**
   * {@code ledger} with the entries of a legacy ledger that its shards do not hold yet: while an
   * earlier Nimbus may still run, its reservations hold capacity as much as the shards' do.
   */
  private Ledger withLegacy(String pool, Ledger ledger) {
    if (!storage.mayHaveLegacy(pool)) {
      return ledger;
    }
    LedgerStorage.Legacy legacy = storage.legacy(pool);
    if (legacy == null) {
      return ledger;
    }
    Ledger next = ledger;
    for (LedgerEntry entry : LedgerCodec.decode(pool, legacy.document()).entries().values()) {
      if (next.entry(entry.uid()) == null) {
        next = next.with(entry);
      }
    }
    return next;
  }

  /** The shards of {@code pool} as stored now, assembled. */
  private Snapshot stored(String pool) {
    Map<String, LedgerStorage.Versioned> versions = storage.readShards(pool);
    return snapshot(pool, versions, unsharded(pool, versions));
  }

  /**
   * The shards of {@code pool} as this replica knows them, assembled. Nodes that stored workloads
   * place instances on and that it knows no shard of are read from the API server first: another
   * replica may have written such a node's first shard, and this replica seen the status of the
   * workload admitted there before the shard. Only a shard absent there too is lost (and stays so
   * for this replica, without another read, until a shard of its node is written or seen).
   */
  private Snapshot known(String pool) {
    Map<String, LedgerStorage.Versioned> versions = storage.shards(pool);
    Set<String> unseen = new HashSet<>(unsharded(pool, versions));
    unseen.removeAll(storage.lostShards(pool));
    if (!unseen.isEmpty()) {
      storage.confirm(pool, unseen);
      versions = storage.shards(pool);
    }
    return snapshot(pool, versions, Set.of());
  }

  /**
   * The shards of {@code versions} decoded (each version once) and assembled into a ledger, with
   * the nodes whose shard is lost: deleted, unreadable, named by a reservation's part but absent,
   * or {@code unsharded}: absent where a stored workload's status places an instance.
   */
  private Snapshot snapshot(
      String pool, Map<String, LedgerStorage.Versioned> versions, Set<String> unsharded) {
    Set<String> deleted = storage.lostShards(pool);
    Snapshot known = snapshots.get(pool);
    if (known != null
        && known.versions().equals(versions)
        && known.deleted().equals(deleted)
        && known.unsharded().equals(unsharded)) {
      return known;
    }
    Map<String, LedgerShards.Shard> shards = new HashMap<>();
    Map<String, LedgerStorage.Versioned> unreadable = new HashMap<>();
    versions.forEach(
        (node, version) -> {
          String key = pool + "/" + node;
          DecodedShard decoded = decodedShards.get(key);
          if (decoded == null || !decoded.resourceVersion().equals(version.version())) {
            LedgerShards.Shard shard;
            try {
              shard = LedgerShards.decode(node, version.document());
            } catch (IllegalStateException e) {
              shard = null; // edited into something else: lost until it is rebuilt
            }
            decoded = new DecodedShard(version.version(), shard);
            decodedShards.put(key, decoded);
          }
          if (decoded.shard() == null) {
            unreadable.put(node, version);
          } else {
            shards.put(node, decoded.shard());
          }
        });
    Set<String> lost = new HashSet<>(deleted);
    lost.addAll(unreadable.keySet());
    lost.addAll(unsharded);
    for (LedgerShards.Shard shard : shards.values()) {
      shard.reservations().values().forEach(part -> lost.addAll(part.nodes()));
    }
    lost.removeAll(shards.keySet());
    Snapshot snapshot =
        new Snapshot(
            Map.copyOf(versions),
            Set.copyOf(deleted),
            unsharded,
            Map.copyOf(shards),
            Map.copyOf(unreadable),
            LedgerShards.assemble(pool, shards.values()).withLostNodes(lost));
    snapshots.put(pool, snapshot);
    return snapshot;
  }

  /**
   * The nodes of {@code pool} where stored workloads place instances and no shard is known: their
   * shards were lost while no replica watched them (deleted while Nimbus was down, or an install
   * moved to another namespace), which neither a watch nor a reservation's part can tell. While a
   * ledger from before shards may still hold what the shards do not, it holds them.
   */
  private Set<String> unsharded(String pool, Map<String, LedgerStorage.Versioned> versions) {
    Set<String> placed = placedNodes.apply(pool);
    if (placed.isEmpty() || versions.keySet().containsAll(placed) || storage.mayHaveLegacy(pool)) {
      return Set.of();
    }
    Set<String> unsharded = new HashSet<>(placed);
    unsharded.removeAll(versions.keySet());
    return Set.copyOf(unsharded);
  }

  /**
   * Shards as known, by node, the nodes this replica saw lose theirs, the nodes with stored
   * instances and no shard, the shards that hold what cannot be read, and the ledger the readable
   * ones hold together.
   */
  private record Snapshot(
      Map<String, LedgerStorage.Versioned> versions,
      Set<String> deleted,
      Set<String> unsharded,
      Map<String, LedgerShards.Shard> shards,
      Map<String, LedgerStorage.Versioned> unreadable,
      Ledger ledger) {}

  /**
   * Writes anew the lost shard of {@code node} in {@code pool}, holding the parts on it of {@code
   * entries}: the pool's controller rebuilds it so from the stored workloads. Returns false when
   * the shard is not lost (any more), or another write came first.
   */
  public boolean rebuild(String pool, String node, Collection<LedgerEntry> entries) {
    Snapshot read = known(pool);
    if (!read.ledger().lostNodes().contains(node)) {
      return false;
    }
    Map<String, LedgerShards.Part> parts = new HashMap<>();
    for (LedgerEntry entry : entries) {
      LedgerShards.Part part = LedgerShards.parts(entry).get(node);
      if (part != null) {
        parts.put(entry.uid(), part);
      }
    }
    // Over what cannot be read, or where nothing is (deleted, or never written).
    LedgerStorage.Versioned over = read.unreadable().get(node);
    return storage.write(pool, node, over, LedgerShards.encode(new LedgerShards.Shard(node, parts)))
        != null;
  }

  /**
   * A shard as decoded at a resourceVersion: a version holds one document, which the storage keeps,
   * so it is not kept here a second time.
   */
  private record DecodedShard(String resourceVersion, LedgerShards.Shard shard) {}

  /**
   * {@code ledger} with the entries of a change that was written to some of its shards and not to
   * others put back as they were before it, node by node, where that holds no more on the node than
   * what is stored there now; elsewhere (the change gave capacity back there) what is stored stays.
   * Putting back never takes more of a node than it holds, which no decision judged.
   */
  /**
   * The entry of {@code uid} before a write that went through on some shards and failed on {@code
   * failed}: its parts as {@code read} had them on the shards written, and as {@code current} has
   * them on the others; null when it had none.
   */
  private static LedgerEntry before(String uid, Ledger read, Ledger current, Set<String> failed) {
    Map<String, LedgerShards.Part> parts = new HashMap<>();
    LedgerEntry seen = read.entry(uid);
    if (seen != null) {
      LedgerShards.parts(seen)
          .forEach(
              (node, part) -> {
                if (!failed.contains(node)) {
                  parts.put(node, part);
                }
              });
    }
    LedgerEntry stored = current.entry(uid);
    if (stored != null) {
      LedgerShards.parts(stored)
          .forEach(
              (node, part) -> {
                if (failed.contains(node)) {
                  parts.put(node, part);
                }
              });
    }
    return LedgerShards.entry(uid, parts);
  }

  private static Ledger putBack(Ledger ledger, Map<String, Optional<LedgerEntry>> before) {
    Ledger next = ledger;
    for (Map.Entry<String, Optional<LedgerEntry>> e : before.entrySet()) {
      String uid = e.getKey();
      Map<String, LedgerShards.Part> was = e.getValue().map(LedgerShards::parts).orElse(Map.of());
      LedgerEntry stored = ledger.entry(uid);
      Map<String, LedgerShards.Part> now = stored == null ? Map.of() : LedgerShards.parts(stored);
      Map<String, LedgerShards.Part> kept = new HashMap<>();
      Set<String> nodes = new HashSet<>(was.keySet());
      nodes.addAll(now.keySet());
      for (String node : nodes) {
        LedgerShards.Part previous = was.get(node);
        LedgerShards.Part current = now.get(node);
        if (current != null && (previous == null || previous.within(current))) {
          if (previous != null) {
            kept.put(node, previous);
          }
        } else if (current != null) {
          kept.put(node, current);
        }
      }
      LedgerEntry entry = LedgerShards.entry(uid, kept);
      next = next.without(Set.of(uid));
      if (entry != null) {
        next = next.with(entry);
      }
    }
    return next;
  }

  /** The UIDs whose entries differ between {@code before} and {@code after}. */
  private static Set<String> changedUids(Ledger before, Ledger after) {
    return after.changedSince(before);
  }

  private static Set<String> nodesOf(LedgerEntry entry) {
    if (entry == null) {
      return Set.of();
    }
    Set<String> nodes = new HashSet<>();
    entry.placements().forEach(p -> nodes.add(p.node()));
    return nodes;
  }

  private static boolean intersects(Set<String> a, Set<String> b) {
    return a.stream().anyMatch(b::contains);
  }

  private static void fail(List<Pending<?>> batch, Throwable failure) {
    // Changes answered already keep their answer.
    batch.forEach(pending -> pending.future.completeExceptionally(failure));
  }

  private static CompletableFuture<Boolean> inline(Supplier<Boolean> write) {
    try {
      return CompletableFuture.completedFuture(write.get());
    } catch (RuntimeException | Error e) {
      return CompletableFuture.failedFuture(e);
    }
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
    // When its caller is answered "retry" at the latest (System.nanoTime()).
    final long deadline;
    // Until when its caller waits for the answer, no later than the deadline: past it, the change
    // is never written.
    final long answerBy;
    // The "retry" it is answered when it cannot be written in time.
    final Supplier<ContentionException> tooLate;
    final CompletableFuture<T> future = new CompletableFuture<>();
    private final AtomicInteger state = new AtomicInteger(WAITING);
    private T result;
    private RuntimeException failure;

    Pending(
        Function<Ledger, Change<T>> decide,
        long deadline,
        long answerBy,
        Supplier<ContentionException> tooLate) {
      this.decide = decide;
      this.deadline = deadline;
      this.answerBy = answerBy;
      this.tooLate = tooLate;
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
