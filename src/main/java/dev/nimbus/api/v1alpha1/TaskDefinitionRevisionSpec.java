package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/** A family's revision and what it defines. */
@JsonClassDescription("A family's revision and what it defines.")
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "self == oldSelf",
    message = "a task definition revision cannot change, as an ECS one cannot: register another")
@ValidationRule(
    value = "has(self.taskDefinition.family)",
    message = "taskDefinition.family is required: it is the family the revision belongs to")
public record TaskDefinitionRevisionSpec(
    @JsonPropertyDescription(
            "The revision within the family, from 1: RegisterTaskDefinition gives the next one.")
        @Required
        @Min(1)
        Integer revision,
    @JsonPropertyDescription("The task definition, with its family.") @Required
        TaskDefinition taskDefinition) {}
