package dev.nimbus.kubevirt;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The base of every nested KubeVirt model class: fields that the class does not declare are kept
 * here on reading and written back on writing.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonAutoDetect(fieldVisibility = JsonAutoDetect.Visibility.PUBLIC_ONLY)
public abstract class KubeVirtObject {
  // Made at the first undeclared field: most objects have none, and a replica caches thousands.
  private Map<String, Object> additionalProperties;

  /** The fields the class does not declare, as read; empty when there were none. */
  @JsonAnyGetter
  public Map<String, Object> additionalProperties() {
    return additionalProperties == null ? Map.of() : additionalProperties;
  }

  @JsonAnySetter
  public void setAdditionalProperty(String name, Object value) {
    if (additionalProperties == null) {
      additionalProperties = new LinkedHashMap<>();
    }
    additionalProperties.put(name, value);
  }

  /**
   * Forgets the fields the class does not declare: for a copy that is read and never written back.
   */
  public void dropAdditionalProperties() {
    additionalProperties = null;
  }
}
