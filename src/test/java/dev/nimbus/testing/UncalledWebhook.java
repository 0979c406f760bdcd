package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.util.List;

/**
 * The operator's webhook configurations (the validating one that admits, the mutating one that
 * gives finalizers) narrowed so that the API server no longer calls them for one namespace, as
 * while none was installed; {@link #close} puts the webhooks back. They are narrowed, not deleted:
 * the replicas of a local run write a deleted configuration again at once.
 */
public final class UncalledWebhook implements AutoCloseable {
  private final Resource<ValidatingWebhookConfiguration> validating;
  private final List<ValidatingWebhook> savedValidating;
  private final Resource<MutatingWebhookConfiguration> mutating;
  private final List<MutatingWebhook> savedMutating;

  private UncalledWebhook(
      Resource<ValidatingWebhookConfiguration> validating,
      List<ValidatingWebhook> savedValidating,
      Resource<MutatingWebhookConfiguration> mutating,
      List<MutatingWebhook> savedMutating) {
    this.validating = validating;
    this.savedValidating = savedValidating;
    this.mutating = mutating;
    this.savedMutating = savedMutating;
  }

  /** Leaves {@code namespace} out of the configurations named {@code name}. */
  public static UncalledWebhook in(KubernetesClient client, String name, String namespace) {
    var admissionRegistration = client.admissionRegistration().v1();
    var validating = admissionRegistration.validatingWebhookConfigurations().withName(name);
    var mutating = admissionRegistration.mutatingWebhookConfigurations().withName(name);
    ValidatingWebhookConfiguration currentValidating = validating.get();
    MutatingWebhookConfiguration currentMutating = mutating.get();
    if (currentValidating == null || currentMutating == null) {
      throw new IllegalStateException("no webhook configurations " + name);
    }
    LabelSelector allBut = allBut(namespace);
    mutating.edit(
        c -> {
          c.getWebhooks().forEach(w -> w.setNamespaceSelector(allBut));
          return c;
        });
    validating.edit(
        c -> {
          c.getWebhooks().forEach(w -> w.setNamespaceSelector(allBut));
          return c;
        });
    return new UncalledWebhook(
        validating, currentValidating.getWebhooks(), mutating, currentMutating.getWebhooks());
  }

  private static LabelSelector allBut(String namespace) {
    return new LabelSelectorBuilder()
        .addNewMatchExpression()
        .withKey("kubernetes.io/metadata.name")
        .withOperator("NotIn")
        .withValues(namespace)
        .endMatchExpression()
        .build();
  }

  @Override
  public void close() {
    validating.edit(
        c -> {
          c.setWebhooks(savedValidating);
          return c;
        });
    mutating.edit(
        c -> {
          c.setWebhooks(savedMutating);
          return c;
        });
  }
}
