package dev.nimbus.api.v1alpha1;

/**
 * CEL expressions shared by several fields. Each one is written for the field it sits on ({@code
 * self}); the message that goes with it stays at the field, so it can name the field.
 */
final class Rules {
  /** A Kubernetes quantity strictly above zero. */
  static final String POSITIVE_QUANTITY =
      "isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))";

  /** A Kubernetes quantity of zero or more. */
  static final String NON_NEGATIVE_QUANTITY =
      "isQuantity(self) && !quantity(self).isLessThan(quantity('0'))";

  /** A reference to a namespaced object: a DNS-1123 label. */
  static final String DNS_LABEL = "self.matches('" + ApiGroup.DNS_LABEL + "')";

  /** A reference to a cluster-scoped object: a DNS-1123 subdomain. */
  static final String DNS_SUBDOMAIN = "self.matches('" + ApiGroup.DNS_SUBDOMAIN + "')";

  /** The field may be set once and never changed. */
  static final String IMMUTABLE = "self == oldSelf";

  static final String LABEL_MESSAGE =
      "must be a DNS label: lower-case letters, digits and '-', starting and ending with a"
          + " letter or digit, at most 63 characters";

  static final String LABELS_MESSAGE =
      "must hold names that are DNS labels: lower-case letters, digits and '-', starting and"
          + " ending with a letter or digit, at most 63 characters each";

  private Rules() {}
}
