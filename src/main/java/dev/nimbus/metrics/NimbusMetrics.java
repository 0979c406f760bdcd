package dev.nimbus.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every metric Nimbus publishes, in one place. Names are prefixed {@code nimbus_}; label values are
 * listed in each help text. JOSDK's reconcile metrics come on top of these.
 */
// Made at start, not at its first use: its counters read 0 until they count, on every replica.
@Startup
@ApplicationScoped
public class NimbusMetrics {
  private final MeterRegistry registry;
  private final Map<String, AtomicLong> poolGauges = new ConcurrentHashMap<>();

  private final Counter ledgerReads;

  public NimbusMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.ledgerReads =
        Counter.builder("nimbus_ledger_reads")
            .description(
                "Reads of every ledger shard of a pool from the API server (a list of the pool's"
                    + " shards), made where a workload may hold a reservation that this replica's"
                    + " watch has not shown yet: before a readmission, at a deletion")
            .register(registry);
  }

  /** Counts one read of a pool's every ledger shard from the API server. */
  public void ledgerRead() {
    ledgerReads.increment();
  }

  /**
   * Counts one admission decision and times it. kind: VirtualServer, ContainerTask, or Other for
   * whatever else a review names (a label taken from a request as it is would let any client that
   * reaches the webhook grow the registry without bound). result: allowed, denied. reason:
   * Admitted, Unchanged, DryRun, Invalid, BadRequest, InsufficientCapacity, NoNodeFits,
   * NoEligibleNode, NoPodSlot, TerminationProtection, Contention, Error.
   */
  public void admission(String requestedKind, String result, String reason, Duration latency) {
    String kind =
        "VirtualServer".equals(requestedKind) || "ContainerTask".equals(requestedKind)
            ? requestedKind
            : "Other";
    Counter.builder("nimbus_admission_decisions")
        .description(
            "Admission decisions. kind: VirtualServer|ContainerTask|Other; result: allowed|denied;"
                + " reason: Admitted|Unchanged|DryRun|Invalid|BadRequest|InsufficientCapacity|"
                + "NoNodeFits|NoEligibleNode|NoPodSlot|TerminationProtection|Contention|Error")
        .tags("kind", kind, "result", result, "reason", reason)
        .register(registry)
        .increment();
    Timer.builder("nimbus_admission_latency")
        .description(
            "Time to decide one admission request. kind: VirtualServer|ContainerTask|Other")
        .tags("kind", kind)
        .publishPercentileHistogram()
        .register(registry)
        .record(latency);
  }

  /**
   * Counts one call of the AWS API and times it. protocol: ec2, ecs. action: the action's name when
   * Nimbus serves it, else Other (a label taken from a request as it is would let any caller grow
   * the registry without bound). code: OK, or the AWS error code answered.
   */
  public void awsRequest(String protocol, String action, String code, Duration latency) {
    Counter.builder("nimbus_aws_requests")
        .description(
            "Calls of the AWS API. protocol: ec2|ecs; action: a served action or Other; code: OK or"
                + " the AWS error code answered")
        .tags("protocol", protocol, "action", action, "code", code)
        .register(registry)
        .increment();
    Timer.builder("nimbus_aws_latency")
        .description("Time to answer one call of the AWS API. protocol: ec2|ecs")
        .tags("protocol", protocol)
        .publishPercentileHistogram()
        .register(registry)
        .record(latency);
  }

  /**
   * Times a workload from its creation until it first runs: a VirtualServer until all its admitted
   * instances run, a ContainerTask until all its placed tasks have started. kind: VirtualServer,
   * ContainerTask.
   */
  public void timeToRunning(String kind, Duration sinceCreation) {
    Timer.builder("nimbus_time_to_running")
        .description(
            "Time from a workload's creation until everything admitted runs."
                + " kind: VirtualServer|ContainerTask")
        .tags("kind", kind)
        .publishPercentileHistogram()
        .register(registry)
        .record(sinceCreation);
  }

  /**
   * Sets a pool gauge. measure: physical, virtual, allocated, free. resource: cpu (cores), memory
   * (bytes), ephemeral-storage (bytes).
   */
  public void pool(String pool, String measure, String resource, double value) {
    String key = pool + "/" + measure + "/" + resource;
    AtomicLong holder =
        poolGauges.computeIfAbsent(
            key,
            k -> {
              AtomicLong created = new AtomicLong();
              registry.gauge(
                  "nimbus_pool_" + measure,
                  io.micrometer.core.instrument.Tags.of("pool", pool, "resource", resource),
                  created,
                  a -> Double.longBitsToDouble(a.get()));
              return created;
            });
    holder.set(Double.doubleToLongBits(value));
  }
}
