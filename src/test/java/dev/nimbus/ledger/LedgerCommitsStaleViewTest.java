package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.allocation.Amounts;
import dev.nimbus.allocation.Node;
import dev.nimbus.allocation.Pool;
import dev.nimbus.allocation.Ratio;
import dev.nimbus.allocation.Request;
import dev.nimbus.allocation.Resource;
import dev.nimbus.allocation.Verdict;
import dev.nimbus.ledger.LedgerStore.Change;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
    LedgerCommits commits = new LedgerCommits(storage, 20, Duration.ofSeconds(5));
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

  /** Admits {@code count} instances of 1 CPU, on {@code only} when set. */
  private static Change<Boolean> admit(Ledger ledger, String uid, int count, String only) {
    List<Node> nodes = NODES.stream().filter(n -> only == null || n.name().equals(only)).toList();
    Verdict verdict =
        new Pool("p", nodes, ledger.reservations())
            .admit(Request.anywhere(uid, Amounts.of(1_000, GI, 0), count, count));
    if (!(verdict instanceof Verdict.Admitted admitted)) {
      return Change.none(false);
    }
    return Change.write(
        ledger.with(
            LedgerEntry.of(
                "VirtualServer", "ns", uid, count, admitted.reservation(), Instant.EPOCH, 1L)),
        true);
  }

  /** A node that holds {@code instances} instances of 1 CPU and 1Gi. */
  private static Node node(String name, int instances) {
    return new Node(
        name,
        Amounts.of(1_000L * instances, GI * instances, 0),
        Map.of(
            Resource.CPU,
            Ratio.ONE,
            Resource.MEMORY,
            Ratio.ONE,
            Resource.EPHEMERAL_STORAGE,
            Ratio.ONE),
        Map.of());
  }

  /**
   * Shards in memory with every version kept; a view shows a node one version back for as many
   * reads as {@link #staleReadsOf} says, as a replica's watch can lag behind a write.
   */
  private static final class ScriptedStorage implements LedgerStorage {
    private final Map<String, List<Versioned>> versions = new HashMap<>();
    private final Map<String, Integer> stale = new HashMap<>();
    private long version;

    void staleReadsOf(String node, int reads) {
      stale.put(node, reads);
    }

    Ledger latest() {
      List<LedgerShards.Shard> shards = new ArrayList<>();
      readShards("p").forEach((node, v) -> shards.add(LedgerShards.decode(node, v.document())));
      return LedgerShards.assemble("p", shards);
    }

    @Override
    public synchronized Map<String, Versioned> shards(String pool) {
      Map<String, Versioned> view = new HashMap<>();
      versions.forEach(
          (node, list) -> {
            int reads = stale.getOrDefault(node, 0);
            boolean behind = reads > 0 && list.size() > 1;
            if (reads > 0) {
              stale.put(node, reads - 1);
            }
            view.put(node, list.get(list.size() - (behind ? 2 : 1)));
          });
      return view;
    }

    @Override
    public Set<String> lostShards(String pool) {
      return Set.of();
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
      if (!java.util.Objects.equals(latest, current)) {
        return null;
      }
      Versioned written = new Versioned(Long.toString(++version), document);
      list.add(written);
      return written;
    }

    @Override
    public boolean mayHaveLegacy(String pool) {
      return false;
    }

    @Override
    public Legacy legacy(String pool) {
      return null;
    }

    @Override
    public boolean retireLegacy(String pool, Legacy current) {
      return false;
    }

    @Override
    public void legacyCopied(String pool) {}
  }
}
