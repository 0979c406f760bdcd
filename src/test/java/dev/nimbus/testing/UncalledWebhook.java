package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.util.List;

/**
 * The operator's webhook configuration narrowed so that the API server no longer calls it for one
 * namespace, as while no configuration was installed; {@link #close} puts the webhooks back. It is
 * narrowed, not deleted: the replicas of a local run write a deleted configuration again at once.
 */
public final class UncalledWebhook implements AutoCloseable {
  private final Resource<ValidatingWebhookConfiguration> configuration;
  private final List<ValidatingWebhook> saved;

  private UncalledWebhook(
      Resource<ValidatingWebhookConfiguration> configuration, List<ValidatingWebhook> saved) {
    this.configuration = configuration;
    this.saved = saved;
  }

  /** Leaves {@code namespace} out of the configuration named {@code name}. */
  public static UncalledWebhook in(KubernetesClient client, String name, String namespace) {
    var configuration =
        client.admissionRegistration().v1().validatingWebhookConfigurations().withName(name);
    ValidatingWebhookConfiguration current = configuration.get();
    if (current == null) {
      throw new IllegalStateException("no webhook configuration " + name);
    }
    configuration.edit(
        c -> {
          c.getWebhooks()
              .forEach(
                  w ->
                      w.setNamespaceSelector(
                          new LabelSelectorBuilder()
                              .addNewMatchExpression()
                              .withKey("kubernetes.io/metadata.name")
                              .withOperator("NotIn")
                              .withValues(namespace)
                              .endMatchExpression()
                              .build()));
          return c;
        });
    return new UncalledWebhook(configuration, current.getWebhooks());
  }

  @Override
  public void close() {
    configuration.edit(
        c -> {
          c.setWebhooks(saved);
          return c;
        });
  }
}
