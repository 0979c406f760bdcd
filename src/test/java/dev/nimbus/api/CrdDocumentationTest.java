package dev.nimbus.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code kubectl explain} must read well: every kind and every field has a description. */
class CrdDocumentationTest {
  @Test
  void everyFieldIsDescribed(@TempDir Path dir) throws IOException {
    CrdFiles.generate(dir);
    List<String> undescribed = new ArrayList<>();
    try (var files = Files.list(dir)) {
      for (Path file : files.toList()) {
        var crd = Serialization.unmarshal(Files.readString(file), CustomResourceDefinition.class);
        String kind = crd.getSpec().getNames().getKind();
        for (var version : crd.getSpec().getVersions()) {
          JSONSchemaProps root = version.getSchema().getOpenAPIV3Schema();
          collectUndescribed(kind, root, undescribed);
        }
      }
    }

    assertThat(undescribed).as("fields without a description").isEmpty();
  }

  private static void collectUndescribed(String path, JSONSchemaProps schema, List<String> out) {
    if (schema.getDescription() == null || schema.getDescription().isBlank()) {
      out.add(path);
    }
    if (schema.getProperties() != null) {
      schema
          .getProperties()
          .forEach(
              (name, property) -> {
                if (!name.equals("metadata")) {
                  collectUndescribed(path + "." + name, property, out);
                }
              });
    }
    if (schema.getItems() != null && schema.getItems().getSchema().getProperties() != null) {
      schema
          .getItems()
          .getSchema()
          .getProperties()
          .forEach((name, property) -> collectUndescribed(path + "[]." + name, property, out));
    }
  }
}
