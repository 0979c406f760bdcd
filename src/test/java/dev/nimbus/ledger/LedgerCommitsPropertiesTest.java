package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Reservation;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.ledger.LedgerStore.Change;
import dev.nimbus.testing.ModelFixtures;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;

/**
 * The capacity invariant through the path production takes: decisions of the share-ratio model,
 * entries encoded to JSON, group commits with compare-and-swap retries and releases, by two
 * replicas (two {@link LedgerCommits} over one storage) and several threads each, while the storage
 * fails reads and writes at random, some after the write was applied. Every state ever stored keeps
 * each node within {@code P_i × R_i}, every change is answered within its timeout, and no admitted
 * reservation is lost.
 */
class LedgerCommitsPropertiesTest {
  private static final long GI = 1L << 30;
  private static final Duration TIMEOUT = Duration.ofSeconds(2);

  @Property(tries = 100)
  void noInterleavingOfAdmissionsReleasesAndFailingWritesPassesANodesCapacity(
      @ForAll("nodes") List<Node> nodes,
      @ForAll @IntRange(min = 2, max = 6) int threads,
      @ForAll @IntRange(min = 5, max = 40) int changesPerThread,
      @ForAll @DoubleRange(min = 0, max = 0.3) double failureRate,
      @ForAll boolean startsFromLegacy,
      @ForAll long seed)
      throws Exception {
    Ledger legacy = startsFromLegacy ? legacyLedger(nodes, new Random(seed)) : null;
    FlakyStorage storage = new FlakyStorage(nodes, failureRate, seed, legacy);
    List<LedgerCommits> replicas =
        List.of(
            new LedgerCommits(storage, 20, TIMEOUT, anyPool -> Set.of()),
            new LedgerCommits(storage, 20, TIMEOUT, anyPool -> Set.of()));
    Set<String> admitted = ConcurrentHashMap.newKeySet();
    Set<String> released = ConcurrentHashMap.newKeySet();
    Set<String> releaseTried = ConcurrentHashMap.newKeySet();
    AtomicInteger slowest = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      Random random = new Random(seed + t);
      workers.add(
          pool.submit(
              () -> {
                start.await();
                List<String> mine = new ArrayList<>();
                for (int i = 0; i < changesPerThread; i++) {
                  LedgerCommits replica = replicas.get(random.nextInt(replicas.size()));
                  long began = System.nanoTime();
                  try {
                    if (!mine.isEmpty() && random.nextInt(3) == 0) {
                      String uid = mine.remove(random.nextInt(mine.size()));
                      // A release that fails after its write was applied did release.
                      releaseTried.add(uid);
                      if (replica.change("p", ledger -> LedgerStore.releasing(ledger, uid))) {
                        released.add(uid);
                      }
                    } else {
                      String uid = "w-" + thread + "-" + i;
                      Request demand =
                          ModelFixtures.anywhere(
                              uid,
                              Amounts.of(
                                  1 + random.nextInt(8_000), (1 + random.nextInt(16)) * GI / 2, 0),
                              random.nextInt(2),
                              1 + random.nextInt(3));
                      if (replica.change("p", ledger -> admit(nodes, ledger, demand))
                              instanceof Verdict.Admitted granted
                          && granted.reservation().count() > 0) {
                        admitted.add(uid);
                        mine.add(uid);
                      }
                    }
                  } catch (RuntimeException e) {
                    // A failed read or write, or contention: answered, which is what counts here.
                  }
                  slowest.accumulateAndGet(
                      (int) TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), Math::max);
                }
                return null;
              }));
    }
    start.countDown();
    for (Future<?> worker : workers) {
      worker.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();

    assertThat(storage.violations).as("stored states that pass a node's P × R").isEmpty();
    assertThat(slowest.get())
        .as("the slowest answer, ms")
        .isLessThan((int) TIMEOUT.toMillis() + 1_000);
    Ledger last = storage.stored();
    for (String uid : admitted) {
      if (!releaseTried.contains(uid)) {
        assertThat(last.entry(uid)).as("admitted and never released: " + uid).isNotNull();
      }
    }
    for (String uid : released) {
      assertThat(last.entry(uid)).as("released: " + uid).isNull();
    }
    if (legacy != null && !storage.mayHaveLegacy("p")) {
      // Moved into shards: every reservation it held when it was retired is there.
      for (String uid : legacy.entries().keySet()) {
        if (!storage.releasedByLegacy.contains(uid)) {
          assertThat(last.entry(uid)).as("held in the legacy ledger: " + uid).isNotNull();
        }
      }
    }
  }

  /** A legacy ledger that an earlier Nimbus filled with up to 6 reservations, within capacity. */
  private static Ledger legacyLedger(List<Node> nodes, Random random) {
    Ledger ledger = Ledger.empty("p");
    for (int i = 0; i < 6; i++) {
      Request demand =
          ModelFixtures.anywhere(
              "legacy-" + i,
              Amounts.of(1 + random.nextInt(8_000), (1 + random.nextInt(16)) * GI / 2, 0),
              1,
              1 + random.nextInt(2));
      Change<Verdict> change = admit(nodes, ledger, demand);
      ledger = change.next().orElse(ledger);
    }
    return ledger;
  }

  /**
   * A write that takes longer than the decision timeout (an API server that answers late; the
   * client's request timeout bounds it) keeps no other change waiting past that timeout.
   */
  @Example
  void aSlowWriteKeepsNoOtherChangeWaitingPastTheTimeout() throws Exception {
    CountDownLatch writing = new CountDownLatch(1);
    LedgerStorage slow =
        new ShardsOnlyStorage() {
          @Override
          public Map<String, Versioned> shards(String pool) {
            return Map.of();
          }

          @Override
          public Versioned write(String pool, String node, Versioned current, String document) {
            writing.countDown();
            try {
              Thread.sleep(3_000);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return new Versioned("1", document);
          }
        };
    LedgerCommits commits =
        new LedgerCommits(slow, 20, Duration.ofMillis(300), anyPool -> Set.of());
    ExecutorService callers = Executors.newFixedThreadPool(8);
    Future<Boolean> first = callers.submit(() -> commits.change("p", admitting("w0")));
    writing.await();
    List<Future<Long>> others = new ArrayList<>();
    for (int i = 1; i < 8; i++) {
      String uid = "w" + i;
      others.add(
          callers.submit(
              () -> {
                long began = System.nanoTime();
                assertThatThrownBy(() -> commits.change("p", admitting(uid)))
                    .isInstanceOf(LedgerStore.ContentionException.class)
                    .hasMessageContaining("within 300 ms")
                    .hasMessageContaining("retry the request");
                return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
              }));
    }
    for (Future<Long> other : others) {
      assertThat(other.get(10, TimeUnit.SECONDS)).isLessThan(1_000);
    }
    assertThat(first.get(10, TimeUnit.SECONDS)).isTrue();
    callers.shutdownNow();
  }

  private static Function<Ledger, Change<Boolean>> admitting(String uid) {
    return ledger ->
        Change.write(ledger.with(LedgerEntries.oneInstance(uid, "n", 1000)), Boolean.TRUE);
  }

  @Example
  void anErrorInTheCommitAnswersEveryChangeOfTheBatch() throws Exception {
    LedgerStorage broken =
        new ShardsOnlyStorage() {
          @Override
          public Map<String, Versioned> shards(String pool) {
            throw new StackOverflowError("injected");
          }

          @Override
          public Versioned write(String pool, String node, Versioned current, String document) {
            return new Versioned("1", document);
          }
        };
    LedgerCommits commits =
        new LedgerCommits(broken, 20, Duration.ofSeconds(5), anyPool -> Set.of());
    ExecutorService callers = Executors.newFixedThreadPool(4);
    List<Future<Throwable>> answers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      answers.add(
          callers.submit(
              () -> {
                try {
                  commits.change("p", ledger -> Change.none(Boolean.TRUE));
                  return null;
                } catch (Throwable t) {
                  return t;
                }
              }));
    }
    for (Future<Throwable> answer : answers) {
      assertThat(answer.get(3, TimeUnit.SECONDS)).isInstanceOf(StackOverflowError.class);
    }
    callers.shutdownNow();
  }

  /** What the webhook decides for a create: the model on the ledger, the entry if admitted. */
  private static Change<Verdict> admit(List<Node> nodes, Ledger ledger, Request demand) {
    // As production decides: never on a node whose shard is lost.
    List<Node> known = nodes.stream().filter(n -> !ledger.lostNodes().contains(n.name())).toList();
    Verdict verdict = new Pool("p", known, ledger.reservations()).admit(demand);
    if (verdict instanceof Verdict.Admitted admitted) {
      LedgerEntry entry =
          LedgerEntry.of(
              "VirtualServer",
              "ns",
              demand.key(),
              demand.maxCount(),
              admitted.reservation(),
              ReservedAt.onThisReplica(Instant.EPOCH),
              1L);
      return Change.write(ledger.with(entry), verdict);
    }
    return Change.none(verdict);
  }

  /**
   * The shards of one pool in memory, each with a version, as the API server keeps ConfigMaps: a
   * write over an older version is refused. What a replica knows lags: {@link #shards} answers a
   * shard's previous version at random, as a watch that has not delivered the last write yet. Reads
   * and writes fail at {@code failureRate}, half of the failed writes after they were applied (a
   * timeout whose write went through); after every applied write, every node's allocation is
   * checked against its capacity. The pool may start with a legacy ledger, which a replica of an
   * earlier Nimbus keeps changing until it is retired.
   */
  private static final class FlakyStorage implements LedgerStorage {
    final List<String> violations = Collections.synchronizedList(new ArrayList<>());
    private final List<Node> nodes;
    private final double failureRate;
    private final Random random;
    private final Map<String, List<Versioned>> versionsByNode = new HashMap<>();
    private long version;
    private Versioned legacy;
    private boolean retired;

    FlakyStorage(List<Node> nodes, double failureRate, long seed, Ledger legacy) {
      this.nodes = nodes;
      this.failureRate = failureRate;
      this.random = new Random(seed);
      this.legacy =
          legacy == null
              ? null
              : new Versioned(Long.toString(++version), LedgerCodec.encode(legacy));
    }

    @Override
    public synchronized Map<String, Versioned> shards(String pool) {
      fail("read");
      Map<String, Versioned> known = new HashMap<>();
      versionsByNode.forEach(
          (node, versions) -> {
            int back = versions.size() > 1 && random.nextDouble() < 0.3 ? 2 : 1;
            known.put(node, versions.get(versions.size() - back));
          });
      return known;
    }

    @Override
    public Set<String> lostShards(String pool) {
      return Set.of();
    }

    @Override
    public void confirm(String pool, Set<String> nodes) {
      throw new UnsupportedOperationException("no stored workloads place instances here");
    }

    @Override
    public synchronized Map<String, Versioned> readShards(String pool) {
      fail("read");
      Map<String, Versioned> latest = new HashMap<>();
      versionsByNode.forEach(
          (node, versions) -> latest.put(node, versions.get(versions.size() - 1)));
      return latest;
    }

    @Override
    public Versioned write(String pool, String node, Versioned current, String document) {
      pause();
      synchronized (this) {
        boolean fails = random.nextDouble() < failureRate;
        if (fails && random.nextBoolean()) {
          throw new IllegalStateException("injected write failure, not applied");
        }
        List<Versioned> versions = versionsByNode.computeIfAbsent(node, n -> new ArrayList<>());
        Versioned latest = versions.isEmpty() ? null : versions.get(versions.size() - 1);
        if (!Objects.equals(latest, current)) {
          return null;
        }
        Versioned written = new Versioned(Long.toString(++version), document);
        versions.add(written);
        check();
        if (fails) {
          throw new IllegalStateException("injected write failure after it was applied");
        }
        return written;
      }
    }

    @Override
    public synchronized boolean mayHaveLegacy(String pool) {
      return legacy != null && !copied;
    }

    @Override
    public synchronized Legacy legacy(String pool) {
      fail("read");
      if (legacy == null) {
        return null;
      }
      // A replica of the earlier Nimbus, still running, releases one of its entries now and then.
      Ledger held = LedgerCodec.decode(pool, legacy.document());
      if (!retired && !held.entries().isEmpty() && random.nextInt(3) == 0) {
        String uid = held.sortedEntries().get(0).uid();
        legacy =
            new Versioned(Long.toString(++version), LedgerCodec.encode(held.without(Set.of(uid))));
        releasedByLegacy.add(uid);
      }
      return new Legacy(legacy.version(), legacy.document(), retired);
    }

    final Set<String> releasedByLegacy = ConcurrentHashMap.newKeySet();
    private boolean copied;

    @Override
    public synchronized boolean retireLegacy(String pool, Legacy current) {
      if (retired || !legacy.version().equals(current.version())) {
        return false;
      }
      retired = true;
      legacy = new Versioned(Long.toString(++version), legacy.document());
      return true;
    }

    @Override
    public synchronized void legacyCopied(String pool) {
      copied = true;
    }

    synchronized Ledger stored() {
      return LedgerShards.assemble("p", decoded());
    }

    private List<LedgerShards.Shard> decoded() {
      List<LedgerShards.Shard> shards = new ArrayList<>();
      versionsByNode.forEach(
          (node, versions) ->
              shards.add(LedgerShards.decode(node, versions.get(versions.size() - 1).document())));
      return shards;
    }

    private void check() {
      List<LedgerShards.Shard> shards = decoded();
      Ledger ledger = LedgerShards.assemble("p", shards);
      List<Reservation> held = new ArrayList<>(ledger.reservations());
      if (legacy != null) {
        // The legacy ledger's reservations hold capacity too: all of them until it is retired,
        // then each node's part until that node's shard holds it.
        Set<String> copiedInto = new HashSet<>();
        shards.stream()
            .filter(LedgerShards.Shard::holdsLegacy)
            .forEach(s -> copiedInto.add(s.node()));
        for (LedgerEntry entry : LedgerCodec.decode("p", legacy.document()).entries().values()) {
          if (!retired && ledger.entry(entry.uid()) != null) {
            continue;
          }
          List<Reservation.Placement> placements =
              entry.reservation().placements().stream()
                  .filter(p -> !retired || !copiedInto.contains(p.node()))
                  .toList();
          held.add(new Reservation(entry.uid() + "#legacy", placements));
        }
      }
      Pool model = new Pool("p", nodes, ledger.reservations());
      for (Node node : nodes) {
        if (!model.allocatedOn(node.name()).fitsIn(node.virtual())) {
          violations.add(
              node.name()
                  + " holds "
                  + model.allocatedOn(node.name())
                  + " of "
                  + node.virtual()
                  + (legacy != null && !retired ? " (legacy ledger not retired yet)" : "")
                  + ": "
                  + ledger.entries().values().stream()
                      .filter(
                          e -> e.placements().stream().anyMatch(p -> p.node().equals(node.name())))
                      .map(e -> e.uid() + "=" + e.placements())
                      .toList());
        }
      }
    }

    private void fail(String what) {
      if (random.nextDouble() < failureRate) {
        throw new IllegalStateException("injected " + what + " failure");
      }
    }

    private void pause() {
      try {
        Thread.sleep(0, 1 + new Random().nextInt(200_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Provide
  Arbitrary<List<Node>> nodes() {
    Arbitrary<Node> node =
        Combinators.combine(
                Arbitraries.longs().between(1, 32).map(cores -> cores * 1000),
                Arbitraries.longs().between(1, 64).map(gi -> gi * GI),
                Arbitraries.of(1000L, 2000L, 4000L).map(Ratio::new))
            .as((cpu, memory, ratio) -> ModelFixtures.node("n", Amounts.of(cpu, memory, 0), ratio));
    return node.list()
        .ofMinSize(1)
        .ofMaxSize(5)
        .map(
            list -> {
              List<Node> named = new ArrayList<>();
              for (int i = 0; i < list.size(); i++) {
                Node n = list.get(i);
                named.add(
                    new Node("node-" + i, n.physical(), n.ratios(), n.labels(), n.podSlots()));
              }
              return named;
            });
  }
}
