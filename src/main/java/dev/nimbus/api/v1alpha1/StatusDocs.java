package dev.nimbus.api.v1alpha1;

/** Descriptions of the status fields that every kind has, written once. */
final class StatusDocs {
  static final String OBSERVED_GENERATION =
      "The metadata.generation that the operator last acted on. When it is lower than"
          + " metadata.generation, the status describes an older spec.";
  static final String CONDITIONS =
      "The latest observations of the object's state, one per type. Ready is the summary: True"
          + " when the object is doing what its spec asks.";

  private StatusDocs() {}
}
