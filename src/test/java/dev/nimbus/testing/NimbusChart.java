package dev.nimbus.testing;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The project's Helm chart and the helm that renders it, for tests that install or compare what a
 * release installs.
 */
public final class NimbusChart {
  private NimbusChart() {}

  /** The chart's directory in this checkout. */
  public static Path directory() {
    return LocalCluster.projectDir().resolve("helm/nimbus");
  }

  /** The helm that {@code hack/build-control-plane.sh} built. */
  public static Path helm() {
    return ControlPlaneBinaries.path("helm");
  }

  /**
   * The one object that {@code template} renders for a release named {@code release}, read as
   * {@code type}; {@code options} are further {@code helm template} options, such as {@code --set}.
   */
  public static <T> T render(
      KubernetesClient client, Class<T> type, String release, String template, String... options) {
    List<String> command =
        new ArrayList<>(List.of(helm().toString(), "template", release, directory().toString()));
    command.addAll(List.of(options));
    command.addAll(List.of("--show-only", template));
    return client
        .getKubernetesSerialization()
        .unmarshal(
            String.join("\n", ControlPlaneBinaries.run(null, command.toArray(String[]::new))),
            type);
  }
}
