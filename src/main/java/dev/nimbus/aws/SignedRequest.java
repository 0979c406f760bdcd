package dev.nimbus.aws;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A request as it arrived, in the parts that AWS Signature Version 4 signs: the method, the path
 * and query exactly as they were on the request line (still percent-encoded), every header value in
 * arrival order, and the body.
 *
 * @param headers by lower-case name; a header sent more than once has one value per line sent
 */
public record SignedRequest(
    String method, String path, String query, Map<String, List<String>> headers, byte[] body) {

  public SignedRequest {
    TreeMap<String, List<String>> lowerCase = new TreeMap<>();
    headers.forEach(
        (name, values) ->
            lowerCase
                .computeIfAbsent(name.toLowerCase(Locale.ROOT), n -> new ArrayList<>())
                .addAll(values));
    lowerCase.replaceAll((name, values) -> List.copyOf(values));
    headers = Collections.unmodifiableMap(lowerCase);
    query = query == null ? "" : query;
    body = body == null ? new byte[0] : body;
  }

  /** The first value of a header, or null when the request has none. */
  public String header(String name) {
    List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
    return values == null || values.isEmpty() ? null : values.get(0);
  }
}
