package dev.nimbus.testing;

/** The namespace that {@link LocalCluster} made for one test; deleted after it. */
public record TestNamespace(String name) {}
