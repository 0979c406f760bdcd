/**
 * Watched caches of what every admission decision reads: nodes, pools, instance types, key pairs
 * and security groups. Shared by the webhook and the controllers; nothing here decides.
 */
package dev.nimbus.inventory;
