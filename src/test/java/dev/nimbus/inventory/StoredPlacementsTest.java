package dev.nimbus.inventory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerStatus;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class StoredPlacementsTest {
  @Test
  void aNodeIsPlacedOnWhileAStoredWorkloadsStatusNamesIt() {
    StoredPlacements placements = new StoredPlacements();
    VirtualServer one = server("u1", "p", "a", "b", null);
    placements.onAdd(one);
    placements.onAdd(server("u2", "p", "b"));
    placements.onAdd(server("u3", "q", "c"));
    assertThat(placements.nodes("p")).containsExactlyInAnyOrder("a", "b");
    assertThat(placements.nodes("q")).containsExactly("c");

    assertThat(placements.nodes("p")).as("asked again").containsExactlyInAnyOrder("a", "b");

    placements.onUpdate(one, server("u1", "p", "b"));
    assertThat(placements.nodes("p")).as("u1 moved off a").containsExactly("b");

    placements.onDelete(server("u2", "p"), false);
    assertThat(placements.nodes("p")).as("u1 still on b").containsExactly("b");
    placements.onDelete(server("u1", "p"), true);
    assertThat(placements.nodes("p")).isEmpty();
    placements.onAdd(server("u4", "p", "d"));
    assertThat(placements.nodes("p")).as("a node placed on again").containsExactly("d");
    assertThat(placements.nodes("absent")).isEmpty();
  }

  /** A server of {@code uid} whose status places an instance on each of {@code nodes}. */
  private static VirtualServer server(String uid, String pool, String... nodes) {
    VirtualServer server = new VirtualServer();
    server.setMetadata(
        new ObjectMetaBuilder().withName(uid).withNamespace("ns").withUid(uid).build());
    List<VirtualServerStatus.InstanceStatus> instances =
        Arrays.stream(nodes)
            .map(
                node ->
                    new VirtualServerStatus.InstanceStatus("i-" + uid, uid, node, null, "running"))
            .toList();
    server.setStatus(
        new VirtualServerStatus(1L, List.of(), pool, nodes.length, nodes.length, 0, instances));
    return server;
  }
}
