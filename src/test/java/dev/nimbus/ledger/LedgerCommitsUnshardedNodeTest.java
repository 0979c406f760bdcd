package dev.nimbus.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.nimbus.ledger.LedgerStore.Change;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A node where stored workloads run and no shard is known lost its shard while no replica watched
 * (deleted while the operator was down, or left behind in another namespace): nothing is placed on
 * it until the shard is rebuilt, which writes it anew.
 */
class LedgerCommitsUnshardedNodeTest {

  @Test
  void aNodeWhereStoredWorkloadsRunWithoutAShardIsLostUntilItsShardIsRebuilt() {
    MemoryShards storage = new MemoryShards();
    Set<String> placed = new HashSet<>(Set.of("a"));
    LedgerCommits commits =
        new LedgerCommits(storage, 3, Duration.ofSeconds(5), pool -> Set.copyOf(placed));

    assertThat(commits.recent("p").lostNodes()).containsExactly("a");
    assertThatThrownBy(
            () ->
                commits.change(
                    "p",
                    ledger ->
                        Change.write(
                            ledger.with(LedgerEntries.oneInstance("w", "a", 1_000L)), true)))
        .as("a change placing an instance on the node")
        .isInstanceOf(LedgerStore.ContentionException.class);
    assertThat(storage.shards("p")).as("nothing written on the lost node").isEmpty();
    boolean elsewhere =
        commits.change(
            "p",
            ledger -> Change.write(ledger.with(LedgerEntries.oneInstance("v", "b", 1_000L)), true));
    assertThat(elsewhere).as("a change on another node").isTrue();

    assertThat(commits.rebuild("p", "a", List.of(LedgerEntries.oneInstance("x", "a", 1_000L))))
        .isTrue();
    assertThat(commits.recent("p").lostNodes()).isEmpty();
    assertThat(commits.recent("p").entry("x")).as("what the stored workload holds").isNotNull();
    assertThat(commits.rebuild("p", "a", List.of())).as("rebuilt once").isFalse();

    placed.add("c");
    assertThat(commits.recent("p").lostNodes())
        .as("a node that stored workloads name later")
        .containsExactly("c");
  }

  @Test
  void aNodeWhoseShardThisReplicaHasNotSeenYetIsNotLost() {
    // Another replica wrote the node's first shard and admitted a workload there; its status has
    // reached this replica before the shard did.
    MemoryShards storage = new MemoryShards();
    String written = LedgerShards.encode(new LedgerShards.Shard("a", Map.of()));
    storage.write("p", "a", null, written);
    storage.hide("a");
    LedgerCommits commits =
        new LedgerCommits(storage, 3, Duration.ofSeconds(5), pool -> Set.of("a"));

    assertThat(commits.recent("p").lostNodes()).isEmpty();
    boolean placed =
        commits.change(
            "p",
            ledger -> Change.write(ledger.with(LedgerEntries.oneInstance("w", "a", 1_000L)), true));
    assertThat(placed).as("a change placing an instance on the node").isTrue();
    assertThat(storage.readShards("p").get("a").document()).isNotEqualTo(written);
  }

  /** Shards in memory, each written only over the version it was read at. */
  private static final class MemoryShards extends ShardsOnlyStorage {
    private final Map<String, Versioned> shards = new HashMap<>();
    // Nodes whose shard this replica's view does not show until it reads or writes it.
    private final Set<String> hidden = new HashSet<>();
    private long versions;

    synchronized void hide(String node) {
      hidden.add(node);
    }

    @Override
    public synchronized Map<String, Versioned> shards(String pool) {
      Map<String, Versioned> view = new HashMap<>(shards);
      view.keySet().removeAll(hidden);
      return view;
    }

    @Override
    public synchronized Map<String, Versioned> readShards(String pool) {
      return Map.copyOf(shards);
    }

    @Override
    public synchronized void confirm(String pool, Set<String> nodes) {
      hidden.removeAll(nodes);
      super.confirm(pool, nodes);
    }

    @Override
    public synchronized Versioned write(
        String pool, String node, Versioned current, String document) {
      if (!Objects.equals(shards.get(node), current)) {
        return null;
      }
      Versioned written = new Versioned(Long.toString(++versions), document);
      shards.put(node, written);
      hidden.remove(node);
      return written;
    }
  }
}
