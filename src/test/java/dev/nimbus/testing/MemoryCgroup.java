package dev.nimbus.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A memory cgroup below the test run's own, limited as a container's memory is (cgroup v1's {@code
 * memory.limit_in_bytes} or v2's {@code memory.max}): the JVM in it sizes its heap from the limit,
 * and the kernel kills it past the limit, as it would kill the container.
 */
public final class MemoryCgroup {
  private static final Path ROOT = Path.of("/sys/fs/cgroup");

  /** The largest the group's memory use has been, and how often the kernel killed for memory. */
  public record Usage(long peakBytes, long limitBytes, long oomKills) {}

  private MemoryCgroup() {}

  static Path create(String name, long limitBytes) throws IOException {
    Path group = own().resolve("nimbus-" + name);
    if (Files.isDirectory(group)) {
      remove(group);
    }
    Files.createDirectory(group);
    Files.writeString(
        group.resolve(v2(group) ? "memory.max" : "memory.limit_in_bytes"),
        Long.toString(limitBytes));
    return group;
  }

  static Usage usage(Path group) {
    try {
      if (v2(group)) {
        return new Usage(
            number(group.resolve("memory.peak")),
            number(group.resolve("memory.max")),
            field(group.resolve("memory.events"), "oom_kill"));
      }
      return new Usage(
          number(group.resolve("memory.max_usage_in_bytes")),
          number(group.resolve("memory.limit_in_bytes")),
          field(group.resolve("memory.oom_control"), "oom_kill"));
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the memory cgroup " + group, e);
    }
  }

  /** Removes the group once its processes have exited (the kernel refuses while any is left). */
  static void remove(Path group) {
    for (int attempt = 0; attempt < 50; attempt++) {
      try {
        Files.deleteIfExists(group);
        return;
      } catch (IOException e) {
        try {
          Thread.sleep(100);
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** The memory cgroup this JVM is in, from /proc/self/cgroup. */
  private static Path own() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
      String[] parts = line.split(":", 3);
      if (parts[1].equals("memory")) {
        return ROOT.resolve("memory").resolve(parts[2].substring(1));
      }
    }
    for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
      if (line.startsWith("0::")) {
        return ROOT.resolve(line.substring(4));
      }
    }
    throw new IOException("no memory cgroup in /proc/self/cgroup");
  }

  private static boolean v2(Path group) {
    return !group.startsWith(ROOT.resolve("memory"));
  }

  private static long number(Path file) throws IOException {
    String value = Files.readString(file).strip();
    return value.equals("max") ? Long.MAX_VALUE : Long.parseLong(value);
  }

  private static long field(Path file, String name) throws IOException {
    for (String line : Files.readAllLines(file)) {
      if (line.startsWith(name + " ")) {
        return Long.parseLong(line.substring(name.length() + 1).strip());
      }
    }
    return 0;
  }
}
