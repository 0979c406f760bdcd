package dev.nimbus.kubevirt;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.Objects;

/**
 * The base of the KubeVirt resources Nimbus reads and writes: metadata, spec and status; its kind
 * and API version are those its class's annotations name. Not a fabric8 {@code CustomResource},
 * which computes and keeps strings of its own for its kind's names in every object (three of them
 * distinct per object, about 0.2 KB), where a replica caches a VM and a VMI per instance.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"apiVersion", "kind", "metadata", "spec", "status"})
@JsonDeserialize(using = JsonDeserializer.None.class)
public abstract class KubeVirtResource<S, T> implements HasMetadata, Namespaced {
  private ObjectMeta metadata = new ObjectMeta();
  private S spec;
  private T status;

  protected KubeVirtResource(S spec) {
    this.spec = spec;
  }

  @Override
  public ObjectMeta getMetadata() {
    return metadata;
  }

  @Override
  public void setMetadata(ObjectMeta metadata) {
    this.metadata = metadata;
  }

  @Override
  @JsonProperty("apiVersion")
  public String getApiVersion() {
    return HasMetadata.getApiVersion(getClass());
  }

  /** The class says which API version it is: the one read is that of the watch or request. */
  @Override
  public void setApiVersion(String apiVersion) {}

  @Override
  @JsonProperty("kind")
  public String getKind() {
    return HasMetadata.getKind(getClass());
  }

  /** The class says which kind it is. */
  public void setKind(String kind) {}

  @JsonProperty("spec")
  public S getSpec() {
    return spec;
  }

  public void setSpec(S spec) {
    this.spec = spec;
  }

  @JsonProperty("status")
  public T getStatus() {
    return status;
  }

  public void setStatus(T status) {
    this.status = status;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof KubeVirtResource<?, ?> that
        && getClass() == that.getClass()
        && Objects.equals(metadata, that.metadata)
        && Objects.equals(spec, that.spec)
        && Objects.equals(status, that.status);
  }

  @Override
  public int hashCode() {
    return Objects.hash(getClass(), metadata, spec, status);
  }

  @Override
  public String toString() {
    return getKind() + "{metadata=" + metadata + ", spec=" + spec + ", status=" + status + "}";
  }
}
