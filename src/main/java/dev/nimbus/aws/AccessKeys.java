package dev.nimbus.aws;

import dev.nimbus.config.NimbusConfig;
import dev.nimbus.naming.Names;
import dev.nimbus.workload.PagedLists;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * The access keys of the AWS API: the labelled Secrets of the operator's namespace, watched, so
 * that a key works as soon as its Secret exists and stops as soon as it is deleted. A Secret that
 * does not hold a usable key is logged and ignored; an id held by two Secrets matches neither.
 */
@ApplicationScoped
public class AccessKeys {
  private static final Logger LOG = Logger.getLogger(AccessKeys.class);

  private final KubernetesClient client;
  private final NimbusConfig config;
  private final Map<String, AccessKey> bySecret = new ConcurrentHashMap<>();
  private SharedIndexInformer<Secret> secrets;

  public AccessKeys(KubernetesClient client, NimbusConfig config) {
    this.client = client;
    this.config = config;
  }

  /** Starts watching the keys' Secrets and waits until they are listed. */
  synchronized void start() {
    if (secrets != null) {
      return;
    }
    secrets =
        client
            .secrets()
            .inNamespace(config.namespace())
            .withLabel(Names.ACCESS_KEY_LABEL, "true")
            .withLimit(PagedLists.INFORMER_PAGE)
            .inform(new Keys(), 0);
  }

  synchronized void stop() {
    if (secrets != null) {
      secrets.close();
    }
  }

  /** The key of {@code id}, if exactly one Secret holds it. */
  public Optional<AccessKey> find(String id) {
    List<AccessKey> matches = bySecret.values().stream().filter(k -> k.id().equals(id)).toList();
    if (matches.size() > 1) {
      LOG.warnf(
          "Access key %s is held by %d Secrets: refused until one is left", id, matches.size());
      return Optional.empty();
    }
    return matches.stream().findFirst();
  }

  private final class Keys implements ResourceEventHandler<Secret> {
    @Override
    public void onAdd(Secret secret) {
      String name = secret.getMetadata().getName();
      Map<String, String> annotations =
          secret.getMetadata().getAnnotations() == null
              ? Map.of()
              : secret.getMetadata().getAnnotations();
      Map<String, String> data = new HashMap<>();
      if (secret.getData() != null) {
        secret
            .getData()
            .forEach(
                (k, v) ->
                    data.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
      }
      try {
        bySecret.put(
            name,
            AccessKey.of(
                name,
                data,
                annotations.get(Names.ACCESS_KEY_NAMESPACE_ANNOTATION),
                annotations.get(Names.ACCESS_KEY_USER_ANNOTATION)));
      } catch (IllegalArgumentException e) {
        bySecret.remove(name);
        LOG.warn(e.getMessage() + "; the key is not usable until the Secret is corrected");
      }
    }

    @Override
    public void onUpdate(Secret before, Secret secret) {
      onAdd(secret);
    }

    @Override
    public void onDelete(Secret secret, boolean finalStateUnknown) {
      bySecret.remove(secret.getMetadata().getName());
    }
  }
}
