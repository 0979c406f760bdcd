package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** The status of a kind that only needs to say whether it is usable: InstanceType, KeyPair. */
@JsonClassDescription("Whether the object is usable. Written by the operator only.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SimpleStatus(
    @JsonPropertyDescription(StatusDocs.OBSERVED_GENERATION) Long observedGeneration,
    @JsonPropertyDescription(StatusDocs.CONDITIONS) List<Condition> conditions) {}
