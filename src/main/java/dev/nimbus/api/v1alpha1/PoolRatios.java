package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.ValidationRule;

/** One allocation ratio per resource. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PoolRatios(
    @JsonPropertyDescription("CPU ratio, greater than 0 and at most 64; default 1.")
        @Default("1.0")
        @ValidationRule(value = RATIO, message = "ratios.cpu " + RATIO_MESSAGE)
        Double cpu,
    @JsonPropertyDescription("Memory ratio, greater than 0 and at most 64; default 1.")
        @Default("1.0")
        @ValidationRule(value = RATIO, message = "ratios.memory " + RATIO_MESSAGE)
        Double memory,
    @JsonPropertyDescription("Ephemeral-storage ratio, greater than 0 and at most 64; default 1.")
        @Default("1.0")
        @ValidationRule(value = RATIO, message = "ratios.ephemeralStorage " + RATIO_MESSAGE)
        Double ephemeralStorage) {

  static final String RATIO = "self > 0.0 && self <= 64.0";
  static final String RATIO_MESSAGE = "must be greater than 0 and at most 64";
}
