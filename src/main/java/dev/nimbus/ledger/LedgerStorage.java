package dev.nimbus.ledger;

/**
 * Where the ledgers are kept: one document per pool, read with a version and written only over the
 * version that was read. The API server's resourceVersion is that version for the ConfigMaps the
 * operator keeps them in ({@link ConfigMapLedgerStorage}).
 */
public interface LedgerStorage {
  /** A stored ledger: its encoded document and the version it was read at. */
  record Versioned(String version, String document) {}

  /** The ledger of {@code pool} as stored now; null when none was ever written. */
  Versioned read(String pool);

  /**
   * Writes {@code document} as the ledger of {@code pool} if it is still at {@code current} (null:
   * still absent); returns false when another write came first. Any other failure is thrown, and
   * the write may or may not have happened.
   */
  boolean write(String pool, Versioned current, String document);
}
