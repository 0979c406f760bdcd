package dev.nimbus.bench;

import java.util.HashMap;
import java.util.Map;

/**
 * Operator properties a benchmark run adds to the replicas it starts: each system property of the
 * benchmark named {@code bench.operator.<name>} becomes {@code <name>} (for example {@code
 * -Dbench.operator.quarkus.vertx.event-loops-pool-size=4}), so that two settings can be measured
 * side by side with the same command.
 */
final class OperatorOptions {
  private static final String PREFIX = "bench.operator.";

  private OperatorOptions() {}

  static Map<String, String> fromSystemProperties() {
    Map<String, String> options = new HashMap<>();
    System.getProperties()
        .forEach(
            (key, value) -> {
              if (key.toString().startsWith(PREFIX)) {
                options.put(key.toString().substring(PREFIX.length()), value.toString());
              }
            });
    return options;
  }
}
