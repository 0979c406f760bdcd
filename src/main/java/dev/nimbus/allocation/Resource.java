package dev.nimbus.allocation;

/**
 * The resources that a pool shares out, each counted in exact integer units so that no sum of
 * reservations is ever off by a rounding error: CPU in millicores, memory and ephemeral storage in
 * bytes.
 */
public enum Resource {
  CPU("cpu", "millicores"),
  MEMORY("memory", "bytes"),
  EPHEMERAL_STORAGE("ephemeral-storage", "bytes");

  private final String kubernetesName;
  private final String unit;

  Resource(String kubernetesName, String unit) {
    this.kubernetesName = kubernetesName;
    this.unit = unit;
  }

  /** The name of the resource in a node's allocatable and a container's requests. */
  public String kubernetesName() {
    return kubernetesName;
  }

  /** The unit that amounts of this resource are counted in. */
  public String unit() {
    return unit;
  }
}
