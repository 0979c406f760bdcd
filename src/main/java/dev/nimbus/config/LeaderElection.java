package dev.nimbus.config;

import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Produces;
import jakarta.interceptor.Interceptor;
import java.util.Optional;
import java.util.UUID;
import org.jboss.logging.Logger;

/**
 * Turns on JOSDK's leader election with the lease settings of {@link NimbusConfig}. The identity is
 * the pod name (HOSTNAME) with a random suffix, so that two replicas on one host differ too.
 *
 * <p>Given to QOSDK as a bean, not through a {@code ConfigurationServiceCustomizer}: behind a
 * customizer QOSDK's configuration service falls back to JOSDK's defaults for the Kubernetes client
 * and the resource cloner, and those build a new client (kubeconfig, trust and key stores) for
 * every reconcile, about 40% of the operator's CPU under load (bench/RESULTS.md). {@code
 * ArchitectureTest} keeps customizers out.
 */
@ApplicationScoped
public class LeaderElection {
  private static final Logger LOG = Logger.getLogger(LeaderElection.class);

  private final NimbusConfig config;
  private volatile boolean shuttingDown;

  public LeaderElection(NimbusConfig config) {
    this.config = config;
  }

  /** The election QOSDK runs, or none (null) when it is turned off. */
  @Produces
  LeaderElectionConfiguration configuration() {
    var election = config.leaderElection();
    if (!election.enabled()) {
      return null;
    }
    String identity =
        Optional.ofNullable(System.getenv("HOSTNAME")).orElse("nimbus")
            + "-"
            + UUID.randomUUID().toString().substring(0, 8);
    LeaderCallbacks callbacks =
        new LeaderCallbacks(
            () -> LOG.infof("Became the leader (%s): running the controllers", identity),
            () -> stoppedLeading(identity),
            leader -> LOG.infof("The leader is now %s", leader));
    return new LeaderElectionConfiguration(
        election.leaseName(),
        config.namespace(),
        election.leaseDuration(),
        election.renewDeadline(),
        election.retryPeriod(),
        identity,
        callbacks,
        false);
  }

  /**
   * Told before QOSDK stops the operator (which gives the lease up) on the same event: observers of
   * the same priority are called in no given order.
   */
  void shuttingDown(@Observes @Priority(Interceptor.Priority.PLATFORM_BEFORE) ShutdownEvent event) {
    shuttingDown = true;
  }

  /**
   * A replica that loses its lease while running must stop reconciling at once, or two leaders
   * would act; it exits and its pod restarts as a follower. During shutdown the lease is given up
   * on purpose, and exiting from inside the shutdown would deadlock it (JOSDK's own exit option
   * does exactly that), so then nothing more happens.
   */
  private void stoppedLeading(String identity) {
    if (shuttingDown) {
      LOG.infof("Gave up leadership (%s) on shutdown", identity);
      return;
    }
    LOG.errorf(
        "Lost leadership (%s) while running: exiting so that only the leader reconciles", identity);
    new Thread(() -> System.exit(1), "leadership-lost").start();
  }
}
