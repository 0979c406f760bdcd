package dev.nimbus.aws;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * A request of the EC2 Query protocol: the form-encoded parameters of its body ({@code
 * Action=DescribeInstanceTypes&Version=2016-11-15&InstanceType.1=t3.micro}), read by name; lists
 * are numbered from 1 as EC2 numbers them ({@code InstanceType.1}, {@code InstanceType.2}, ...).
 */
public record Ec2Request(Map<String, String> parameters) {
  /** The EC2 API version Nimbus speaks, and the namespace of its XML. */
  public static final String VERSION = "2016-11-15";

  /** Reads a form-encoded body; a parameter sent twice keeps its last value. */
  public static Ec2Request parse(String body) {
    Map<String, String> parameters = new LinkedHashMap<>();
    for (String pair : body.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int equals = pair.indexOf('=');
      String name = equals < 0 ? pair : pair.substring(0, equals);
      String value = equals < 0 ? "" : pair.substring(equals + 1);
      try {
        parameters.put(
            URLDecoder.decode(name, StandardCharsets.UTF_8),
            URLDecoder.decode(value, StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        throw new Ec2Exception(
            400, "InvalidParameterValue", "The parameter " + name + " is not form-encoded");
      }
    }
    return new Ec2Request(Map.copyOf(parameters));
  }

  public String action() {
    return string("Action")
        .orElseThrow(
            () -> new Ec2Exception(400, "MissingAction", "The request must contain the Action"));
  }

  public Optional<String> string(String name) {
    return Optional.ofNullable(parameters.get(name));
  }

  /**
   * A digest of every parameter but {@code excluded}, in name order: two calls that differ only in
   * those have the same digest.
   */
  public String digest(Set<String> excluded) {
    try {
      MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
      new TreeMap<>(parameters)
          .forEach(
              (name, value) -> {
                if (!excluded.contains(name)) {
                  sha256.update((name + "=" + value + "\n").getBytes(StandardCharsets.UTF_8));
                }
              });
      return HexFormat.of().formatHex(sha256.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The values of {@code name.1}, {@code name.2}, ... up to the first missing index. */
  public List<String> list(String name) {
    List<String> values = new ArrayList<>();
    for (int i = 1; parameters.containsKey(name + "." + i); i++) {
      values.add(parameters.get(name + "." + i));
    }
    return values;
  }
}
