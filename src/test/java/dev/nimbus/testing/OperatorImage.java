package dev.nimbus.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The operator's image as {@code hack/build-image.sh} builds it (Jib on a Debian base, no container
 * runtime), built once per test run into {@code target/image/}: its configuration as a runtime
 * reads it, and its layers unpacked into a root filesystem that {@link OperatorProcess#fromImage}
 * runs the entrypoint in.
 */
public final class OperatorImage {
  private static OperatorImage built;

  /**
   * The tag it was pushed with, such as {@code 127.0.0.1:port/nimbus-dev/nimbus-operator:0.1.0}.
   */
  public final String reference;

  public final String user;
  public final List<String> entrypoint;
  public final List<String> cmd;
  public final Map<String, String> env;
  public final String workingDir;
  public final Path rootfs;

  private OperatorImage(
      String reference,
      String user,
      List<String> entrypoint,
      List<String> cmd,
      Map<String, String> env,
      String workingDir,
      Path rootfs) {
    this.reference = reference;
    this.user = user;
    this.entrypoint = entrypoint;
    this.cmd = cmd;
    this.env = env;
    this.workingDir = workingDir;
    this.rootfs = rootfs;
  }

  /** The tag part of {@link #reference}. */
  public String tag() {
    return reference.substring(reference.lastIndexOf(':') + 1);
  }

  /** Builds the image (the first call of a test run), unpacks it and reads its configuration. */
  public static synchronized OperatorImage build() {
    if (built != null) {
      return built;
    }
    Path project = LocalCluster.projectDir();
    Path dir = project.resolve("target/image");
    Path tarball = dir.resolve("nimbus-operator.tar");
    try {
      Files.createDirectories(dir);
      Path log = dir.resolve("build-image.log");
      Process build =
          new ProcessBuilder(
                  project.resolve("hack/build-image.sh").toString(), "--output", tarball.toString())
              .directory(project.toFile())
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      if (!build.waitFor(15, TimeUnit.MINUTES) || build.exitValue() != 0) {
        build.destroyForcibly();
        throw new IllegalStateException(
            "hack/build-image.sh failed:\n" + Files.readString(log).strip());
      }
      built = unpack(tarball, dir.resolve("rootfs"));
      return built;
    } catch (IOException e) {
      throw new IllegalStateException("cannot build the operator's image", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Reads a `docker save`-style tarball (crane pull's) and unpacks its layers in order. */
  private static OperatorImage unpack(Path tarball, Path rootfs) throws IOException {
    Path saved = Files.createTempDirectory(tarball.getParent(), "saved");
    run("tar", "-xf", tarball.toString(), "-C", saved.toString());
    ObjectMapper json = new ObjectMapper();
    JsonNode manifest = json.readTree(saved.resolve("manifest.json").toFile()).get(0);
    JsonNode config =
        json.readTree(saved.resolve(manifest.get("Config").asText()).toFile()).get("config");

    run("rm", "-rf", rootfs.toString());
    Files.createDirectories(rootfs);
    for (JsonNode layer : manifest.get("Layers")) {
      // GNU tar keeps owners, modes and links as the layer has them (the tests run as root).
      run(
          "tar",
          "--numeric-owner",
          "-xzf",
          saved.resolve(layer.asText()).toString(),
          "-C",
          rootfs.toString());
    }
    run("rm", "-rf", saved.toString());

    Map<String, String> env = new LinkedHashMap<>();
    for (JsonNode variable : config.path("Env")) {
      String[] pair = variable.asText().split("=", 2);
      env.put(pair[0], pair[1]);
    }
    return new OperatorImage(
        manifest.get("RepoTags").get(0).asText(),
        config.path("User").asText(""),
        strings(config.path("Entrypoint")),
        strings(config.path("Cmd")),
        env,
        config.path("WorkingDir").asText("/"),
        rootfs);
  }

  private static List<String> strings(JsonNode array) {
    List<String> values = new ArrayList<>();
    array.forEach(value -> values.add(value.asText()));
    return values;
  }

  private static void run(String... command) throws IOException {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      String output;
      try (InputStream out = process.getInputStream()) {
        output = new String(out.readAllBytes());
      }
      if (process.waitFor() != 0) {
        throw new IOException(String.join(" ", command) + " failed: " + output);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }
}
