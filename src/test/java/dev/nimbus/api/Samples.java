package dev.nimbus.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.nimbus.testing.LocalCluster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The sample manifests of {@code deploy/samples}, and the invalid variants made from them. */
public final class Samples {
  static final ObjectMapper YAML = new YAMLMapper();

  private Samples() {}

  /** One document of a sample file. */
  public record Sample(String file, ObjectNode object) {
    public String kind() {
      return object.path("kind").asText();
    }

    @Override
    public String toString() {
      return file + " " + kind() + "/" + object.path("metadata").path("name").asText();
    }
  }

  /** One invalid variant and the message the API server must answer it with. */
  public record Case(
      String name,
      String sample,
      String kind,
      Map<String, Object> set,
      Map<String, Object> update,
      String message) {
    /** The sample document this case starts from, with {@code set} applied. */
    public ObjectNode object() {
      ObjectNode object = sampleOf(sample, kind);
      if (set != null) {
        set.forEach((path, value) -> Samples.set(object, path, value));
      }
      return object;
    }

    /** {@code base} with {@code update} applied. */
    public ObjectNode updated(ObjectNode base) {
      ObjectNode object = base.deepCopy();
      update.forEach((path, value) -> Samples.set(object, path, value));
      return object;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  public static Path dir() {
    return LocalCluster.projectDir().resolve("deploy/samples");
  }

  /** Every document of every sample file, in file order. */
  public static List<Sample> all() {
    List<Sample> samples = new ArrayList<>();
    try (var files = Files.list(dir())) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
        var parser = new YAMLFactory().createParser(file.toFile());
        for (JsonNode document : YAML.readValues(parser, JsonNode.class).readAll()) {
          samples.add(new Sample(file.getFileName().toString(), (ObjectNode) document));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return samples;
  }

  /** The invalid variants of {@code src/test/resources/crd-cases.yaml}. */
  public static List<Case> invalidCases() {
    try (var in = Samples.class.getResourceAsStream("/crd-cases.yaml")) {
      return List.of(YAML.readValue(in, Case[].class));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ObjectNode sampleOf(String file, String kind) {
    return all().stream()
        .filter(s -> s.file().equals(file) && s.kind().equals(kind))
        .findFirst()
        .map(s -> s.object().deepCopy())
        .orElseThrow(() -> new IllegalArgumentException("no " + kind + " in " + file));
  }

  static void set(ObjectNode root, String dottedPath, Object value) {
    String[] keys = dottedPath.split("\\.");
    JsonNode parent = root;
    for (int i = 0; i < keys.length - 1; i++) {
      parent = child(parent, keys[i]);
    }
    JsonNode node = YAML.valueToTree(expand(value));
    String last = keys[keys.length - 1];
    if (parent instanceof ArrayNode array) {
      array.set(Integer.parseInt(last), node);
    } else {
      ((ObjectNode) parent).set(last, node);
    }
  }

  private static JsonNode child(JsonNode parent, String key) {
    if (parent instanceof ArrayNode array) {
      return array.get(Integer.parseInt(key));
    }
    JsonNode child = parent.get(key);
    return child != null ? child : ((ObjectNode) parent).putObject(key);
  }

  /** The value with every {repeat, times} in it, at any depth, replaced by its string. */
  private static Object expand(Object value) {
    if (value instanceof Map<?, ?> map && map.containsKey("repeat")) {
      return String.valueOf(map.get("repeat")).repeat((Integer) map.get("times"));
    }
    if (value instanceof Map<?, ?> map) {
      Map<Object, Object> expanded = new LinkedHashMap<>();
      map.forEach((key, item) -> expanded.put(key, expand(item)));
      return expanded;
    }
    if (value instanceof List<?> list) {
      return list.stream().map(Samples::expand).toList();
    }
    return value;
  }
}
