package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.ledger.LedgerStore.Change;
import dev.nimbus.testing.ModelFixtures;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A change decided on a view in which one shard is older than the others: it is answered only once
 * every shard its entry spans has been written, whatever the views of its retries show. Found by
 * {@link LedgerCommitsPropertiesTest}: a release answered as done while a stale view hid the part
 * of the entry that was still stored.
 */
class LedgerCommitsStaleViewTest {
  private static final long GI = 1L << 30;

  /** Room for one instance on a and two on b: with x on b, w's two instances take one each. */
  private static final List<Node> NODES = List.of(node("a", 1), node("b", 2));

  @Test
  void aReleaseIsAnsweredOnlyWhenEveryShardOfItsEntryIsWritten() {
    ScriptedStorage storage = new ScriptedStorage();
    LedgerCommits commits =
        new LedgerCommits(storage, 20, Duration.ofSeconds(5), anyPool -> Set.of());
    // Something on b first, so that b has an older version to be seen in.
    boolean x = commits.change("p", ledger -> admit(ledger, "x", 1, "b"));
    // One instance on each node: an entry with a part in each shard.
    boolean w = commits.change("p", ledger -> admit(ledger, "w", 2, null));
    assertThat(List.of(x, w)).containsOnly(true);
    assertThat(storage.latest().entry("w").placements()).hasSize(2);

    // The next two views show b as it was before w.
    storage.staleReadsOf("b", 2);
    boolean released = commits.<Boolean>change("p", ledger -> LedgerStore.releasing(ledger, "w"));

    assertThat(released).isTrue();
    assertThat(storage.latest().entry("w")).as("w as stored after its release").isNull();
    assertThat(storage.latest().entry("x")).isNotNull();
  }

  /**
   * A change retried after a part of it was written decides, on a view that shows a shard as it was
   * after its first attempt, what its first attempt wrote there: the shard must still be written,
   * since it holds what the second attempt wrote. Found by {@link LedgerCommitsPropertiesTest}: an
   * admission answered while a shard held a part of an earlier attempt, which a release then left
   * behind.
   */
  @Test
  void aRetryWritesEveryShardAnEarlierAttemptWroteEvenWhereItsViewShowsTheWantedPart() {
    ScriptedStorage storage = new ScriptedStorage();
    LedgerCommits commits =
        new LedgerCommits(storage, 20, Duration.ofSeconds(5), anyPool -> Set.of());
    // Another writer gets to b first, twice: the first two attempts write a and not b.
    storage.refuseWritesOf("b", 2);
    // The third attempt's view shows a as the first attempt left it.
    storage.staleOnRead("a", 3);
    List<List<String>> attempts =
        List.of(List.of("a", "b"), List.of("b", "a"), List.of("a", "b"), List.of("a", "b"));
    int[] attempt = {0};

    boolean admitted =
        commits.change(
            "p",
            ledger ->
                Change.write(
                    ledger.with(
                        LedgerEntries.placed(
                            "w", attempts.get(Math.min(attempt[0]++, 3)), i -> 1_000L * (i + 1))),
                    true));

    assertThat(admitted).isTrue();
    assertThat(storage.latest().entry("w").placements())
        .as("w as stored once its admission was answered")
        .isEqualTo(
            LedgerEntries.placed("w", List.of("a", "b"), i -> 1_000L * (i + 1)).placements());
  }

  /** Admits {@code count} instances of 1 CPU, on {@code only} when set. */
  private static Change<Boolean> admit(Ledger ledger, String uid, int count, String only) {
    List<Node> nodes = NODES.stream().filter(n -> only == null || n.name().equals(only)).toList();
    Verdict verdict =
        new Pool("p", nodes, ledger.reservations())
            .admit(ModelFixtures.anywhere(uid, Amounts.of(1_000, GI, 0), count, count));
    if (!(verdict instanceof Verdict.Admitted admitted)) {
      return Change.none(false);
    }
    return Change.write(
        ledger.with(
            LedgerEntry.of(
                "VirtualServer",
                "ns",
                uid,
                count,
                admitted.reservation(),
                ReservedAt.onThisReplica(Instant.EPOCH),
                1L)),
        true);
  }

  /** A node that holds {@code instances} instances of 1 CPU and 1Gi. */
  private static Node node(String name, int instances) {
    return ModelFixtures.node(name, Amounts.of(1_000L * instances, GI * instances, 0), Ratio.ONE);
  }

  /**
   * Shards in memory with every version kept; a view shows a node one version back for as many
   * reads as {@link #staleReadsOf} says, as a replica's watch can lag behind a write.
   */
  private static final class ScriptedStorage extends ShardsOnlyStorage {
    private final Map<String, List<Versioned>> versions = new HashMap<>();
    private final Map<String, Integer> stale = new HashMap<>();
    private final Map<String, Integer> staleOnRead = new HashMap<>();
    private final Map<String, Integer> refused = new HashMap<>();
    private long version;
    private int reads;

    void staleReadsOf(String node, int reads) {
      stale.put(node, reads);
    }

    /** The {@code read}-th view (from 1) shows {@code node} one version back. */
    void staleOnRead(String node, int read) {
      staleOnRead.put(node, read);
    }

    /**
     * The next {@code writes} writes of {@code node} find another writer's version first, as a
     * write of another replica that came between a view and a write.
     */
    void refuseWritesOf(String node, int writes) {
      refused.put(node, writes);
    }

    Ledger latest() {
      List<LedgerShards.Shard> shards = new ArrayList<>();
      readShards("p").forEach((node, v) -> shards.add(LedgerShards.decode(node, v.document())));
      return LedgerShards.assemble("p", shards);
    }

    @Override
    public synchronized Map<String, Versioned> shards(String pool) {
      Map<String, Versioned> view = new HashMap<>();
      int read = ++this.reads;
      versions.forEach(
          (node, list) -> {
            int reads = stale.getOrDefault(node, 0);
            boolean behind =
                (reads > 0 || staleOnRead.getOrDefault(node, 0) == read) && list.size() > 1;
            if (reads > 0) {
              stale.put(node, reads - 1);
            }
            view.put(node, list.get(list.size() - (behind ? 2 : 1)));
          });
      return view;
    }

    @Override
    public synchronized Map<String, Versioned> readShards(String pool) {
      Map<String, Versioned> latest = new HashMap<>();
      versions.forEach((node, list) -> latest.put(node, list.get(list.size() - 1)));
      return latest;
    }

    @Override
    public synchronized Versioned write(
        String pool, String node, Versioned current, String document) {
      List<Versioned> list = versions.computeIfAbsent(node, n -> new ArrayList<>());
      Versioned latest = list.isEmpty() ? null : list.get(list.size() - 1);
      if (refused.getOrDefault(node, 0) > 0) {
        refused.merge(node, -1, Integer::sum);
        list.add(new Versioned(Long.toString(++version), latest == null ? "" : latest.document()));
        return null;
      }
      if (!Objects.equals(latest, current)) {
        return null;
      }
      Versioned written = new Versioned(Long.toString(++version), document);
      list.add(written);
      return written;
    }
  }
}
