package dev.nimbus.api;

import dev.nimbus.testing.OldestKubernetes;

/**
 * {@link CrdSchemaIT} on the kube-apiserver of the oldest Kubernetes Nimbus supports: the CRDs'
 * schemas and CEL rules compile there, and every sample and invalid case is judged as on the
 * newest.
 */
@OldestKubernetes
class CrdSchemaOnOldestKubernetesIT extends CrdSchemaIT {}
