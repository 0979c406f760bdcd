package dev.nimbus.ledger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.Map;
import java.util.TreeMap;

/** A ledger as stored: JSON, entries by UID in key order, so that equal ledgers encode equally. */
public final class LedgerCodec {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

  private LedgerCodec() {}

  /** The ledger of {@code pool} that {@code document} holds; empty for an empty document. */
  public static Ledger decode(String pool, String document) {
    if (document == null || document.isBlank()) {
      return Ledger.empty(pool);
    }
    try {
      return new Ledger(
          pool, JSON.readValue(document, new TypeReference<Map<String, LedgerEntry>>() {}));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("the ledger of pool \"" + pool + "\" is not valid JSON", e);
    }
  }

  public static String encode(Ledger ledger) {
    try {
      return JSON.writeValueAsString(new TreeMap<>(ledger.entries()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
