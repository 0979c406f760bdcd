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

  /**
   * A replica of {@code namespace} serving its webhook on {@code port}, which the API server calls
   * at {@code url} (a proxy in front of several replicas, or the port itself).
   */
  static Map<String, String> replica(
      String namespace, int port, String url, String configurationName) {
    Map<String, String> options =
        new HashMap<>(
            Map.of(
                "quarkus.http.port",
                "0",
                "nimbus.namespace",
                namespace,
                "nimbus.webhook.host",
                "127.0.0.1",
                "nimbus.webhook.port",
                Integer.toString(port),
                "nimbus.webhook.url",
                url,
                "nimbus.webhook.extra-hosts",
                "127.0.0.1",
                "nimbus.webhook.configuration-name",
                configurationName));
    options.putAll(fromSystemProperties());
    return options;
  }

  private static Map<String, String> fromSystemProperties() {
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
