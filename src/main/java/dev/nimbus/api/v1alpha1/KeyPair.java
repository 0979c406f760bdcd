package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * An SSH public key, as an EC2 key pair imported with ImportKeyPair. A VirtualServer names it in
 * {@code keyName}, and Nimbus puts the key into the guest's authorized keys for the default user.
 * Only the public half is ever stored; the object's name is the key name.
 */
@JsonClassDescription(
    "An SSH public key, as an EC2 key pair imported with ImportKeyPair. A VirtualServer names it in spec.keyName, and Nimbus installs it for the guest's default user.")
@Group(ApiGroup.GROUP)
@Version(ApiGroup.VERSION)
@ShortNames("keypair")
@Categories(ApiGroup.CATEGORY)
@ValidationRule(value = ApiGroup.HAS_SPEC, message = ApiGroup.HAS_SPEC_MESSAGE)
@AdditionalPrinterColumn(
    name = "Fingerprint",
    jsonPath = ".status.fingerprint",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class KeyPair extends CustomResource<KeyPairSpec, KeyPairStatus> implements Namespaced {
  @Override
  protected KeyPairSpec initSpec() {
    return null;
  }

  @Override
  protected KeyPairStatus initStatus() {
    return null;
  }
}
