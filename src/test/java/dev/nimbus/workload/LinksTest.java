package dev.nimbus.workload;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.AffinityBuilder;
import org.junit.jupiter.api.Test;

class LinksTest {
  @Test
  void theNodeAPodIsPinnedToIsReadBackFromItsAffinity() {
    assertThat(Links.pinnedNode(Links.pinnedTo("kvm-7"))).contains("kvm-7");
  }

  @Test
  void anAffinityNimbusDidNotWritePinsToNoNode() {
    Affinity byLabel =
        new AffinityBuilder()
            .withNewNodeAffinity()
            .withNewRequiredDuringSchedulingIgnoredDuringExecution()
            .addNewNodeSelectorTerm()
            .addNewMatchExpression()
            .withKey("kubernetes.io/hostname")
            .withOperator("In")
            .withValues("kvm-7")
            .endMatchExpression()
            .endNodeSelectorTerm()
            .endRequiredDuringSchedulingIgnoredDuringExecution()
            .endNodeAffinity()
            .build();
    Affinity eitherNode =
        new AffinityBuilder(Links.pinnedTo("kvm-7"))
            .editNodeAffinity()
            .editRequiredDuringSchedulingIgnoredDuringExecution()
            .editFirstNodeSelectorTerm()
            .editFirstMatchField()
            .withValues("kvm-7", "kvm-8")
            .endMatchField()
            .endNodeSelectorTerm()
            .endRequiredDuringSchedulingIgnoredDuringExecution()
            .endNodeAffinity()
            .build();

    assertThat(Links.pinnedNode(null)).isEmpty();
    assertThat(Links.pinnedNode(new Affinity())).isEmpty();
    assertThat(Links.pinnedNode(byLabel)).isEmpty();
    assertThat(Links.pinnedNode(eitherNode)).isEmpty();
  }
}
