package dev.nimbus.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a {@link LocalCluster} test class against the API server of the oldest Kubernetes that
 * Nimbus supports ({@code OLDEST_KUBERNETES_VERSION} of {@code hack/versions.sh}) instead of the
 * local control plane: an API server with the CRDs and nothing else, for tests that judge what
 * Nimbus installs.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
public @interface OldestKubernetes {}
