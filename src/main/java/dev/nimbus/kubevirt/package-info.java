/**
 * Typed fabric8 model classes for the parts of KubeVirt's {@code kubevirt.io/v1} VirtualMachine and
 * VirtualMachineInstance that Nimbus writes and reads.
 *
 * <p>No published artifact fits (KubeVirt ships Go types only), so Nimbus owns these. They cover
 * what Nimbus uses, not the whole API: every class keeps the fields it does not know in {@link
 * KubeVirtObject#additionalProperties()}, so a read-modify-write round trip never drops a field
 * that KubeVirt or a user set. Fields are public, as in a plain data model; nothing here talks to a
 * cluster.
 */
package dev.nimbus.kubevirt;
