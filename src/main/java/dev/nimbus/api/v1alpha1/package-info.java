/**
 * The Nimbus API, group {@code compute.nimbus.dev}, version {@code v1alpha1}.
 *
 * <p>These types are the contract with users: every field carries the description that {@code
 * kubectl explain} shows, and the static rules (CEL and OpenAPI) that the API server enforces. The
 * CRDs under {@code crds/} are generated from them by {@code hack/update-crds.sh}; the build fails
 * when the two differ. Types here hold data only: no logic that depends on a cluster.
 */
package dev.nimbus.api.v1alpha1;
