package dev.nimbus.naming;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class NamesTest {
  @Test
  void anInstanceOrTaskIndexIsReadBackFromTheNameItGave() {
    for (int index : new int[] {0, 1, 9, 10, 99, 123_456_789}) {
      assertThat(Names.serverVmIndex("web", Names.serverVm("web", index))).hasValue(index);
      assertThat(Names.taskPodIndex("job", Names.taskPod("job", index))).hasValue(index);
    }
  }

  @Test
  void aNameNimbusDoesNotGiveHasNoIndex() {
    // Server "web-1"'s VMs are not server "web"'s, nor is a task's pod a server's VM.
    assertThat(Names.serverVmIndex("web", Names.serverVm("web-1", 0))).isEmpty();
    assertThat(Names.serverVmIndex("web", Names.taskPod("web", 0))).isEmpty();
    assertThat(Names.taskPodIndex("job", Names.taskPod("job-2", 1))).isEmpty();
    for (String name :
        new String[] {"web", "web-", "web-01", "web-x", "web--1", "web-1234567890"}) {
      assertThat(Names.serverVmIndex("web", name)).as(name).isEqualTo(OptionalInt.empty());
    }
  }
}
