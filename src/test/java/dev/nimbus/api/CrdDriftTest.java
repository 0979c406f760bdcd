package dev.nimbus.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.LocalCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code crds/} is what users apply, so it must be exactly what the API types generate. A CRD
 * edited by hand, or a type changed without regenerating, fails the build here.
 */
class CrdDriftTest {
  private static final String REGENERATE =
      "crds/ differs from the API types; run hack/update-crds.sh";

  @Test
  void committedCrdsMatchTheApiTypes(@TempDir Path generated) throws IOException {
    CrdFiles.generate(generated);
    Path committed = LocalCluster.projectDir().resolve("crds");

    assertThat(yamlFiles(committed)).as(REGENERATE).isEqualTo(yamlFiles(generated));
    for (String name : yamlFiles(generated)) {
      assertThat(Files.readString(committed.resolve(name)))
          .as(REGENERATE + " (" + name + ")")
          .isEqualTo(Files.readString(generated.resolve(name)));
    }
  }

  @Test
  void everyKindHasACrd(@TempDir Path generated) throws IOException {
    CrdFiles.generate(generated);

    assertThat(yamlFiles(generated))
        .containsExactlyInAnyOrder(
            "capacitypools.compute.nimbus.dev.yaml",
            "containertasks.compute.nimbus.dev.yaml",
            "instancetypes.compute.nimbus.dev.yaml",
            "keypairs.compute.nimbus.dev.yaml",
            "machineimages.compute.nimbus.dev.yaml",
            "securitygroups.compute.nimbus.dev.yaml",
            "taskdefinitionrevisions.compute.nimbus.dev.yaml",
            "virtualservers.compute.nimbus.dev.yaml");
  }

  private static List<String> yamlFiles(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      return files
          .map(f -> f.getFileName().toString())
          .filter(n -> n.endsWith(".yaml"))
          .sorted()
          .toList();
    }
  }
}
