package dev.nimbus.events;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.events.EventRecorder.Reason;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Events on the real API server: what a controller says again and again (an instance that waits for
 * room, looked at every 30 s) is one Event counted up, as Kubernetes' own recorder does, not a new
 * Event each time.
 */
@ExtendWith(LocalCluster.class)
class EventRecorderIT {
  @Test
  void theSameEventAgainIsCountedNotRepeated(KubernetesClient client, TestNamespace namespace) {
    ConfigMap object =
        client
            .resource(
                new ConfigMapBuilder()
                    .withNewMetadata()
                    .withName("subject")
                    .withNamespace(namespace.name())
                    .endMetadata()
                    .build())
            .create();
    EventRecorder events = new EventRecorder(client);

    for (int i = 0; i < 3; i++) {
      events.warning(object, Reason.InstanceRecovered, "no node has room to recover it yet");
    }
    events.normal(object, Reason.InstanceRecovered, "recovered on node kvm-1");

    List<Event> recorded = client.v1().events().inNamespace(namespace.name()).list().getItems();
    assertThat(recorded)
        .extracting(Event::getMessage, Event::getCount)
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("no node has room to recover it yet", 3),
            org.assertj.core.groups.Tuple.tuple("recovered on node kvm-1", 1));
    assertThat(recorded)
        .allSatisfy(event -> assertThat(event.getInvolvedObject().getName()).isEqualTo("subject"));
  }
}
