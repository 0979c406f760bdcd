/**
 * The share-ratio capacity model, {@code V = Σ P_i × R_i} per resource over a pool's nodes.
 *
 * <p>Plain Java by design: nothing here may import fabric8, JOSDK, Quarkus or the API types
 * (ArchitectureTest enforces it), so the model can be tested exhaustively without a cluster.
 */
package dev.nimbus.allocation;
