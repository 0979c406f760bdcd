/**
 * The objects that workloads name: InstanceTypes, KeyPairs and SecurityGroups. Their controllers
 * only tell, in status, whether each is usable and what Nimbus read from it.
 */
package dev.nimbus.references;
