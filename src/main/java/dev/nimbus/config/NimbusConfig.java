package dev.nimbus.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** The operator's configuration, {@code nimbus.*} in application.properties or the environment. */
@ConfigMapping(prefix = "nimbus")
public interface NimbusConfig {
  /** The namespace the operator runs in: its ledgers and webhook certificate live there. */
  @WithDefault("nimbus-system")
  String namespace();

  /**
   * The namespaces whose workloads Nimbus serves, for a namespaced install: the controllers, the
   * caches and the AWS API see only these, the webhook is called only for them, and the chart
   * grants the operator its rights on workloads, pods, Secrets, VMs and NetworkPolicies in these
   * alone. Unset, every namespace. Pools, instance types, images and nodes are cluster-wide either
   * way, so a cluster runs one Nimbus.
   */
  Optional<Set<String>> watchNamespaces();

  Webhook webhook();

  Ledger ledger();

  LeaderElection leaderElection();

  Aws aws();

  /**
   * The EC2 and ECS wire API (docs/aws-api.md): an HTTPS port of its own on every replica, with the
   * webhook's serving certificate, for boto3, the AWS CLI and the AWS SDKs.
   */
  interface Aws {
    /** Off unless turned on: it serves callers beyond the API server. */
    @WithDefault("false")
    boolean enabled();

    /** The HTTPS port of the AWS API. */
    @WithDefault("8444")
    int port();

    /** The address to bind; 0.0.0.0 in a pod, 127.0.0.1 in local runs. */
    @WithDefault("0.0.0.0")
    String host();

    /** The largest request body read; EC2 and ECS requests are a few KiB (user data 16 KiB). */
    @WithDefault("262144")
    int maxBodyBytes();

    /**
     * How long a ContainerTask that RunTask created is kept once every one of its tasks has
     * stopped, as ECS shows stopped tasks for about an hour; then it is deleted. A ContainerTask
     * created any other way (kubectl, Git) is never deleted by Nimbus: Argo CD would create it
     * again, and it would run again.
     */
    @WithDefault("PT1H")
    Duration stoppedTaskRetention();
  }

  /**
   * Leader election among replicas: one replica runs the controllers, every replica serves the
   * webhook. A killed leader's lease runs out after leaseDuration and another replica takes over.
   */
  interface LeaderElection {
    @WithDefault("true")
    boolean enabled();

    /** The Lease object, in the operator's namespace. */
    @WithDefault("nimbus-operator")
    String leaseName();

    @WithDefault("PT10S")
    Duration leaseDuration();

    @WithDefault("PT8S")
    Duration renewDeadline();

    @WithDefault("PT2S")
    Duration retryPeriod();
  }

  /** The admission webhook. */
  interface Webhook {
    /** The HTTPS port the webhook listens on. */
    @WithDefault("9443")
    int port();

    /** The address to bind; 0.0.0.0 in a pod, 127.0.0.1 in local runs. */
    @WithDefault("0.0.0.0")
    String host();

    /** The ValidatingWebhookConfiguration whose caBundle the operator keeps current. */
    @WithDefault("nimbus")
    String configurationName();

    /** The Service in front of the webhook; its DNS names go into the serving certificate. */
    @WithDefault("nimbus-webhook")
    String serviceName();

    /** The Secret that holds the serving certificate, shared by all replicas. */
    @WithDefault("nimbus-webhook-tls")
    String secretName();

    /** Extra names and IPs for the certificate, such as 127.0.0.1 for local runs. */
    Optional<List<String>> extraHosts();

    /**
     * When set, the operator writes the whole ValidatingWebhookConfiguration itself with this URL
     * (local runs, where no Service exists); otherwise it only patches the caBundle of the one that
     * the Helm chart or manifests installed.
     */
    Optional<String> url();

    /**
     * Who issues the serving certificate: {@code operator} (the replicas issue and renew it in the
     * Secret, and keep the configuration's caBundle current) or {@code cert-manager} (the operator
     * only reads the Secret that cert-manager writes; its CA injector sets the caBundle).
     */
    @WithDefault("operator")
    CertificateIssuer certificateIssuer();

    /** The issuers of the webhook's serving certificate; written operator and cert-manager. */
    enum CertificateIssuer {
      OPERATOR,
      CERT_MANAGER
    }

    /**
     * A PEM file of the CA(s) whose client certificates may call the webhook: when set, a caller
     * must present one (the API server, through its admission configuration's kubeConfigFile), and
     * a connection without it is refused in the TLS handshake, before any review is read. Unset,
     * any TLS client may post a review; then limit who reaches the port (the chart's
     * NetworkPolicy).
     */
    Optional<String> clientCaFile();

    /** How long a serving certificate is valid; it is renewed when a third of that is left. */
    @WithDefault("P365D")
    Duration certificateValidity();

    /**
     * How long the webhook's own CA is valid; it is renewed when a third of that is left, and the
     * caBundle then holds the old CA beside the new one until the old one expires.
     */
    @WithDefault("P3650D")
    Duration caValidity();

    /**
     * How often a replica checks the shared certificate: to renew it, or to start serving one that
     * another replica renewed.
     */
    @WithDefault("PT10M")
    Duration certificateCheckInterval();
  }

  /** The reservation ledger. */
  interface Ledger {
    /** How often a reservation is retried after losing a compare-and-swap race. */
    @WithDefault("20")
    int casAttempts();

    /**
     * How long a reservation may exist without its object before it is released, counted on the
     * deciding replica's monotonic clock from the first time it saw the reservation: the webhook's
     * timeout (10 s) and a margin, so that a create refused after Nimbus admitted it holds its room
     * for no longer. A create that the API server stores later still (a very slow etcd) finds no
     * reservation, and its controller admits it again as soon as the pool has room ({@code
     * Readmission}).
     */
    @WithDefault("PT15S")
    Duration orphanGracePeriod();

    /**
     * How long a change of a ledger may wait for its turn and its write before it is answered with
     * "retry", counted from when the review reached the webhook: shorter than the webhook's timeout
     * (10 s), so that the API server always receives an answer, and a request never holds a thread
     * without a bound. The chart sets four fifths of its {@code webhook.timeoutSeconds}; a local
     * run's webhook configuration waits a quarter longer than this. Each ledger call gets half of
     * it, and a change is written only while more than that is left (half, and a tenth), so that it
     * is never written after its caller was answered.
     */
    @WithDefault("PT8S")
    Duration decisionTimeout();

    /**
     * The share of a pool's virtual capacity, of each resource, that the reservations of one
     * namespace's creates not stored yet may hold together: creates that a later webhook, a quota
     * or a conflict refuses after Nimbus admitted them hold their room until the orphan grace
     * period ends, and a namespace that makes them in a loop must not fill the pool for the others.
     * A create past it is answered 429 "retry".
     */
    @WithDefault("0.5")
    double unconfirmedShare();

    /**
     * How long a lost ledger shard (deleted, or edited into what cannot be read) stays lost before
     * it is rebuilt from the stored workloads: longer than the webhook's timeout (10 s), so that a
     * create admitted onto its node just before the loss is stored, and counted, by then. Nothing
     * is placed on the node meanwhile.
     */
    @WithDefault("PT15S")
    Duration rebuildDelay();
  }
}
