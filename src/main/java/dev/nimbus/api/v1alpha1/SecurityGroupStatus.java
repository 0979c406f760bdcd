package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** The group's rules as read, and its EC2 id. */
@JsonClassDescription("The group's rules as read, and its EC2 id.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SecurityGroupStatus(
    @JsonPropertyDescription(StatusDocs.OBSERVED_GENERATION) Long observedGeneration,
    @JsonPropertyDescription(StatusDocs.CONDITIONS) List<Condition> conditions,
    @JsonPropertyDescription(
            "The group's EC2 id (sg- and 17 hex digits), derived from its UID: what the AWS API's"
                + " RunInstances accepts in SecurityGroupIds.")
        String groupId) {}
