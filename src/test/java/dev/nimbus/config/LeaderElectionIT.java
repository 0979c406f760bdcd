package dev.nimbus.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The leader's lease as a replica's life ends: given up on a graceful stop, and only then. */
class LeaderElectionIT {
  private static final String NAMESPACE = "nimbus-it-leader";

  /**
   * A replica stopped as a pod's deletion stops it (SIGTERM) gives its lease up and ends as the
   * signal ends it: the exit on a lost lease, there for a leader that can no longer renew, must not
   * fire on a shutdown that gives the lease up on purpose.
   */
  @Test
  void aLeaderStoppedGracefullyGivesUpItsLeaseAndExitsCleanly() {
    LocalCluster.client();
    // Confined to its own namespace (and the one it is probed in until its webhook answers), so
    // that it reconciles no other test's workloads meanwhile.
    OperatorProcess leader =
        OperatorProcess.forTests(
            "it-leader-operator",
            NAMESPACE,
            20443,
            Map.of("nimbus.watch-namespaces", NAMESPACE + "," + OperatorProcess.PROBE_NAMESPACE));
    try {
      leader.awaitLogLine("Became the leader", Duration.ofSeconds(60));
    } finally {
      leader.close();
    }

    assertThat(leader.logText()).contains("Gave up leadership").doesNotContain("Lost leadership");
    // What SIGTERM ends a JVM with once its shutdown ran (128 + 15), not the 1 of a lost lease.
    assertThat(leader.exitCode()).as("exit code after SIGTERM").isEqualTo(143);
  }
}
