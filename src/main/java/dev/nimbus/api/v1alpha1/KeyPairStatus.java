package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** What Nimbus learned from the key. */
@JsonClassDescription("What Nimbus learned from the key.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record KeyPairStatus(
    @JsonPropertyDescription(StatusDocs.OBSERVED_GENERATION) Long observedGeneration,
    @JsonPropertyDescription(StatusDocs.CONDITIONS) List<Condition> conditions,
    @JsonPropertyDescription(
            "The key's SHA256 fingerprint as `ssh-keygen -lf` prints it (SHA256:...), to check"
                + " which key a server accepts.")
        String fingerprint) {}
