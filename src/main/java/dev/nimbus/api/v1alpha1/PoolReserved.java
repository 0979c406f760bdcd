package dev.nimbus.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Capacity held back on each node, per resource, as Kubernetes quantities. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PoolReserved(
    @JsonPropertyDescription("CPU kept back per node, such as 500m or 1; default 0.")
        @Default("0")
        @Size(max = 32)
        @ValidationRule(value = Rules.NON_NEGATIVE_QUANTITY, message = "reserved.cpu " + MESSAGE)
        String cpu,
    @JsonPropertyDescription("Memory kept back per node, such as 2Gi; default 0.")
        @Default("0")
        @Size(max = 32)
        @ValidationRule(value = Rules.NON_NEGATIVE_QUANTITY, message = "reserved.memory " + MESSAGE)
        String memory,
    @JsonPropertyDescription("Ephemeral storage kept back per node, such as 10Gi; default 0.")
        @Default("0")
        @Size(max = 32)
        @ValidationRule(
            value = Rules.NON_NEGATIVE_QUANTITY,
            message = "reserved.ephemeralStorage " + MESSAGE)
        String ephemeralStorage) {

  static final String MESSAGE = "must be a quantity of zero or more, such as 0, 500m or 2Gi";
}
