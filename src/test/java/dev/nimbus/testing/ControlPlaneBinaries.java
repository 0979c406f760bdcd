package dev.nimbus.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The binaries {@code hack/build-control-plane.sh} builds (built now if missing, else found in the
 * cache), for tests that run them: virtctl, kubevirt-manifests, kubevirt-admit and the rest.
 */
public final class ControlPlaneBinaries {
  private static Path bin;

  private ControlPlaneBinaries() {}

  /** The path of the binary {@code name}. */
  public static synchronized Path path(String name) {
    if (bin == null) {
      List<String> lines =
          run(null, LocalCluster.projectDir().resolve("hack/build-control-plane.sh").toString());
      bin = Path.of(lines.get(lines.size() - 1));
    }
    return bin.resolve(name);
  }

  /**
   * Runs the cache's virtctl on the local cluster, in {@code namespace}; fails unless it exits 0.
   */
  public static void virtctl(String namespace, String... args) {
    List<String> command =
        new ArrayList<>(
            List.of(
                path("virtctl").toString(),
                "--kubeconfig",
                LocalCluster.kubeconfig().toString(),
                "-n",
                namespace));
    command.addAll(List.of(args));
    run(null, command.toArray(String[]::new));
  }

  /** Runs {@code command} with {@code input} on its stdin; fails unless it exits 0. */
  public static List<String> run(String input, String... command) {
    Result result = runAllowingFailure(input, command);
    if (result.exitCode() != 0) {
      throw new IllegalStateException(
          String.join(" ", command) + " exited " + result.exitCode() + ": " + result.output());
    }
    return result.output();
  }

  /** What a command printed on stdout, and how it exited. */
  public record Result(int exitCode, List<String> output) {}

  /** Runs {@code command} with {@code input} on its stdin, and reports how it exited. */
  public static Result runAllowingFailure(String input, String... command) {
    try {
      Process process =
          new ProcessBuilder(command)
              .directory(LocalCluster.projectDir().toFile())
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      try (var stdin = process.getOutputStream()) {
        if (input != null) {
          stdin.write(input.getBytes(StandardCharsets.UTF_8));
        }
      }
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(15, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " did not finish");
      }
      return new Result(process.exitValue(), output.lines().toList());
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + String.join(" ", command), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
