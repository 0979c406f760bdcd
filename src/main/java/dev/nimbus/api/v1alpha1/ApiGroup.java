package dev.nimbus.api.v1alpha1;

/** Names fixed by the API: group, version, category, and the shapes of names users write. */
public final class ApiGroup {
  public static final String GROUP = "compute.nimbus.dev";
  public static final String VERSION = "v1alpha1";
  public static final String API_VERSION = GROUP + "/" + VERSION;

  /** {@code kubectl get nimbus} lists every Nimbus object. */
  public static final String CATEGORY = "nimbus";

  /** A DNS-1123 label: the shape of a namespaced object's name that another object refers to. */
  public static final String DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

  /** A DNS-1123 subdomain: the shape of a cluster-scoped object's name, such as t3.micro. */
  public static final String DNS_SUBDOMAIN =
      "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

  /**
   * A root rule of every kind: an object without a spec, or with {@code spec: null}, is refused.
   */
  public static final String HAS_SPEC = "has(self.spec)";

  public static final String HAS_SPEC_MESSAGE = "spec is required";

  /**
   * A root rule of the kinds whose name Nimbus puts in label values (of VMs, pods, ledgers), which
   * Kubernetes caps at 63 characters.
   */
  public static final String NAME_FITS_LABEL = "size(self.metadata.name) <= 63";

  public static final String NAME_FITS_LABEL_MESSAGE =
      "metadata.name must be at most 63 characters: Nimbus puts it in label values, which"
          + " Kubernetes caps at 63";

  private ApiGroup() {}
}
