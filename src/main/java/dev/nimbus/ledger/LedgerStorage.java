package dev.nimbus.ledger;

import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * Where the ledgers are kept: a pool's ledger is one document per node ({@link LedgerShards}), each
 * written only over the version that was read. The API server's resourceVersion is that version for
 * the ConfigMaps the operator keeps them in ({@link ConfigMapLedgerStorage}).
 *
 * <p>Pools admitted by an earlier Nimbus keep their ledger as one document for the whole pool, the
 * legacy ledger; a commit moves it into shards before it decides anything in that pool.
 */
public interface LedgerStorage {
  /** A stored document and the version it was read at. */
  record Versioned(String version, String document) {}

  /**
   * The longest one call to the storage may take within a decision that may take {@code
   * decisionTimeout}: half of it, so that a commit that starts a round of writes with that much
   * time left answers within the timeout.
   */
  static Duration callTimeout(Duration decisionTimeout) {
    return decisionTimeout.dividedBy(2);
  }

  /**
   * The shards of {@code pool} by node, as this replica knows them: this replica's own writes at
   * once, other replicas' as soon as they are seen. A shard known at an older version only makes a
   * write over it fail, never succeed.
   */
  Map<String, Versioned> shards(String pool);

  /**
   * The nodes of {@code pool} whose shard this replica saw deleted (Nimbus never deletes one) and
   * not created again since: what they hold is lost until the pool's controller rebuilds them.
   */
  Set<String> lostShards(String pool);

  /** The shards of {@code pool} by node, as stored now. */
  Map<String, Versioned> readShards(String pool);

  /**
   * Reads as stored now the shards of {@code nodes} in {@code pool}, nodes that {@link #shards}
   * shows no shard of: each one found is shown by {@link #shards} from then on (it was written and
   * not seen yet), each one absent is lost ({@link #lostShards}) until a shard of its node is
   * written or seen.
   */
  void confirm(String pool, Set<String> nodes);

  /**
   * Writes {@code document} as the shard of {@code node} in {@code pool} if it is still at {@code
   * current} (null: still absent); returns the version written, or null when another write came
   * first (what {@link #shards} knows of it is then at least as new as that write). Any other
   * failure is thrown, and the write may or may not have happened.
   */
  Versioned write(String pool, String node, Versioned current, String document);

  /** A legacy ledger: its version, its reservations, and whether it was retired. */
  record Legacy(String version, String document, boolean retired) {}

  /**
   * Whether {@code pool} may have a legacy ledger whose reservations are not all in shards yet:
   * answered from what this replica knows, without a call; when it says so, {@link #legacy} tells.
   */
  boolean mayHaveLegacy(String pool);

  /** The legacy ledger of {@code pool} as stored now, retired or not; null when there is none. */
  Legacy legacy(String pool);

  /**
   * Retires the legacy ledger of {@code pool} if it is still at {@code current}: its reservations
   * are kept, frozen, where a replica of an earlier Nimbus no longer reads them, so that it refuses
   * to admit instead of deciding on its own. Returns false when it changed since.
   */
  boolean retireLegacy(String pool, Legacy current);

  /** Records that every shard of {@code pool} holds its part of the retired legacy ledger. */
  void legacyCopied(String pool);
}
