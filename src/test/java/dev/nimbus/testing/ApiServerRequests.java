package dev.nimbus.testing;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The API server's count of the requests it served ({@code apiserver_request_total}), one series
 * per combination of verb, resource, subresource, scope and code: what a test or a benchmark reads
 * to tell how many requests of a kind were made, since the counters never say who made them.
 */
public record ApiServerRequests(List<Series> series) {
  private static final Pattern SERIES =
      Pattern.compile("^apiserver_request_total\\{([^}]*)\\} (\\S+)$");

  /** One counter: its labels (verb, resource, subresource, scope, code, ...) and its value. */
  public record Series(Map<String, String> labels, double count) {
    public String label(String name) {
      return labels.getOrDefault(name, "");
    }
  }

  /** The counters as the API server's {@code /metrics} tells them now. */
  public static ApiServerRequests read(KubernetesClient client) {
    List<Series> series = new ArrayList<>();
    for (String line : client.raw("/metrics").split("\n")) {
      Matcher matcher = SERIES.matcher(line);
      if (!matcher.matches()) {
        continue;
      }
      Map<String, String> labels = new HashMap<>();
      for (String pair : matcher.group(1).split(",")) {
        int eq = pair.indexOf('=');
        labels.put(pair.substring(0, eq), pair.substring(eq + 2, pair.length() - 1));
      }
      series.add(new Series(Map.copyOf(labels), Double.parseDouble(matcher.group(2))));
    }
    return new ApiServerRequests(List.copyOf(series));
  }

  /** The requests of the series that {@code which} selects, whatever their answer. */
  public double count(Predicate<Series> which) {
    return series.stream().filter(which).mapToDouble(Series::count).sum();
  }
}
