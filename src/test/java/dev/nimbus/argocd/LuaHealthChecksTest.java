package dev.nimbus.argocd;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.nimbus.testing.LocalCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.luaj.vm2.Globals;
import org.luaj.vm2.LuaTable;
import org.luaj.vm2.LuaValue;
import org.luaj.vm2.lib.jse.JsePlatform;

/**
 * The Argo CD health checks of deploy/argocd/health, run by a Lua interpreter on objects in every
 * state they tell apart, and the argocd-cm snippet that installs exactly these scripts.
 */
class LuaHealthChecksTest {
  private static final ObjectMapper YAML = new YAMLMapper();

  @ParameterizedTest(name = "{0}: {1} → {2}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          virtualserver | no status yet                    | Progressing
          virtualserver | ready at an older generation     | Progressing
          virtualserver | ready                            | Healthy
          virtualserver | not ready, still starting        | Progressing
          virtualserver | not ready, KubeVirtUnavailable   | Degraded
          virtualserver | not ready, InvalidReference      | Degraded
          virtualserver | stopped                          | Suspended
          containertask | no status yet                    | Progressing
          containertask | ready                            | Healthy
          containertask | ready at an older generation     | Progressing
          containertask | not ready, TaskFailed            | Degraded
          containertask | not ready, TaskFailedToStart     | Degraded
          containertask | not ready, still starting        | Progressing
          capacitypool  | no status yet                    | Progressing
          capacitypool  | ready                            | Healthy
          capacitypool  | not ready, NoNodes               | Degraded
          capacitypool  | ready at an older generation     | Progressing
          """)
  void healthOfEachState(String kind, String state, String expected) throws IOException {
    LuaValue health = run(kind, object(state));

    assertThat(health.get("status").tojstring()).isEqualTo(expected);
    assertThat(health.get("message").isstring()).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"CapacityPool", "ContainerTask", "VirtualServer"})
  void theArgoCdSnippetInstallsExactlyTheScripts(String kind) throws IOException {
    Map<?, ?> snippet =
        YAML.readValue(dir().resolveSibling("argocd-cm-health.yaml").toFile(), Map.class);
    Object installed =
        ((Map<?, ?>) snippet.get("data"))
            .get("resource.customizations.health.compute.nimbus.dev_" + kind);

    assertThat(installed)
        .as("deploy/argocd/argocd-cm-health.yaml is stale: run hack/render-argocd-health.sh")
        .isEqualTo(Files.readString(dir().resolve(kind.toLowerCase() + ".lua")));
  }

  private static Path dir() {
    return LocalCluster.projectDir().resolve("deploy/argocd/health");
  }

  private static LuaValue run(String kind, Map<String, Object> object) throws IOException {
    Globals globals = JsePlatform.standardGlobals();
    globals.set("obj", lua(object));
    String script = Files.readString(dir().resolve(kind + ".lua"));
    return globals.load(script, kind).call();
  }

  /** An object in the named state, as the operator would leave it. */
  private static Map<String, Object> object(String state) {
    boolean stale = state.contains("older generation");
    Map<String, Object> metadata = Map.of("name", "x", "generation", stale ? 3 : 2);
    if (state.equals("no status yet")) {
      return Map.of("metadata", metadata, "spec", Map.of());
    }
    if (state.equals("stopped")) {
      return Map.of(
          "metadata",
          metadata,
          "spec",
          Map.of("running", false),
          "status",
          status("True", "Stopped"));
    }
    boolean ready = state.startsWith("ready");
    String reason =
        ready
            ? "Running"
            : state.contains(",") ? state.substring(state.indexOf(',') + 2) : "Pending";
    if (reason.equals("still starting")) {
      reason = "Starting";
    }
    return Map.of(
        "metadata",
        metadata,
        "spec",
        Map.of("running", true),
        "status",
        status(ready ? "True" : "False", reason));
  }

  private static Map<String, Object> status(String ready, String reason) {
    return Map.of(
        "observedGeneration",
        2,
        "conditions",
        List.of(
            Map.of("type", "Admitted", "status", "True", "reason", "Admitted"),
            Map.of(
                "type",
                "Ready",
                "status",
                ready,
                "reason",
                reason,
                "message",
                "ready is " + ready)));
  }

  /** Converts maps, lists and scalars into Lua values, as Argo CD hands objects to scripts. */
  private static LuaValue lua(Object value) {
    if (value instanceof Map<?, ?> map) {
      LuaTable table = new LuaTable();
      map.forEach((k, v) -> table.set(k.toString(), lua(v)));
      return table;
    }
    if (value instanceof List<?> list) {
      LuaTable table = new LuaTable();
      for (int i = 0; i < list.size(); i++) {
        table.set(i + 1, lua(list.get(i)));
      }
      return table;
    }
    if (value instanceof Boolean b) {
      return LuaValue.valueOf(b);
    }
    if (value instanceof Integer i) {
      return LuaValue.valueOf(i);
    }
    return value == null ? LuaValue.NIL : LuaValue.valueOf(value.toString());
  }
}
