package dev.nimbus.config;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The namespaces this install serves ({@code nimbus.watch-namespaces}): every namespace, or only
 * the listed ones. Every watch and list of a namespaced kind, and every controller of one, asks
 * here where to look, so that a namespaced install never asks the API server for what its Roles do
 * not grant.
 */
@ApplicationScoped
public class WatchedNamespaces {
  private final Optional<Set<String>> listed;

  public WatchedNamespaces(NimbusConfig config) {
    this.listed = config.watchNamespaces().filter(names -> !names.isEmpty()).map(Set::copyOf);
  }

  /** Whether {@code namespace}'s workloads are served here. */
  public boolean includes(String namespace) {
    return listed.map(names -> names.contains(namespace)).orElse(true);
  }

  /**
   * Where to watch or list a namespaced kind: each listed namespace, or one empty scope that stands
   * for all of them.
   */
  public List<Optional<String>> scopes() {
    return listed
        .map(names -> names.stream().sorted().map(Optional::of).toList())
        .orElse(List.of(Optional.empty()));
  }

  /** The listed namespaces, when the install is namespaced. */
  public Optional<Set<String>> listed() {
    return listed;
  }

  /** Restricts a controller of a namespaced kind, and the sources that follow it, to these. */
  public <R extends HasMetadata> void restrict(ControllerConfigurationOverrider<R> controller) {
    listed.ifPresent(controller::settingNamespaces);
  }
}
