package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts the pods created in a namespace from the moment it is opened, by name and UID, as a watch
 * sees them: a pod created twice under one name (a task run again) shows two UIDs.
 */
public final class PodCreations implements AutoCloseable {
  private final Map<String, Set<String>> uidsByName = new ConcurrentHashMap<>();
  private final Watch watch;

  private PodCreations(KubernetesClient client, String namespace, String label) {
    this.watch =
        client
            .pods()
            .inNamespace(namespace)
            .withLabel(label)
            .watch(
                new Watcher<Pod>() {
                  @Override
                  public void eventReceived(Action action, Pod pod) {
                    uidsByName
                        .computeIfAbsent(
                            pod.getMetadata().getName(), name -> ConcurrentHashMap.newKeySet())
                        .add(pod.getMetadata().getUid());
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                });
  }

  /** Starts counting the pods of {@code namespace} that carry {@code label}. */
  public static PodCreations watch(KubernetesClient client, String namespace, String label) {
    return new PodCreations(client, namespace, label);
  }

  /** How many pods of each name were seen, each counted once per UID. */
  public Map<String, Integer> byName() {
    Map<String, Integer> counts = new TreeMap<>();
    uidsByName.forEach((name, uids) -> counts.put(name, uids.size()));
    return counts;
  }

  @Override
  public void close() {
    watch.close();
  }
}
