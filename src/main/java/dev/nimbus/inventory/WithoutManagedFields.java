package dev.nimbus.inventory;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.quarkus.kubernetes.client.KubernetesClientObjectMapperCustomizer;
import jakarta.inject.Singleton;

/**
 * The operator's Kubernetes client reads every object without its managedFields: Nimbus never reads
 * them, and they are often the larger part of a small object (a VirtualServer that its creator and
 * two field managers of the operator wrote holds 15 KB with them, 1.7 KB without).
 *
 * <p>{@link SlimItemStore} drops them from what the informers keep, but not every object the client
 * reads goes through a store: the operator framework keeps the object that each status write
 * answers, to hand to the next reconcile until the write's own event arrives, and when that event
 * arrived before the answer it keeps it until the object changes again — for a server at rest, as
 * long as it lives (a sixth of 3,000 servers, 8 MB of the heap, in a run of bench/servers.sh).
 * Unread, they cost neither that memory nor the time to decode them from every watch event and
 * every admission review.
 */
@Singleton
public class WithoutManagedFields implements KubernetesClientObjectMapperCustomizer {
  @Override
  public void customize(ObjectMapper mapper) {
    mapper.addMixIn(ObjectMeta.class, IgnoredManagedFields.class);
  }

  @JsonIgnoreProperties({"managedFields"})
  private abstract static class IgnoredManagedFields {}
}
