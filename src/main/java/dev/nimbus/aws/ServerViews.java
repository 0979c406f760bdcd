package dev.nimbus.aws;

import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.config.WatchedNamespaces;
import dev.nimbus.inventory.SlimItemStore;
import dev.nimbus.inventory.WatchedInformer;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Every VirtualServer of the namespaces served, as this replica's watch last saw it (without
 * managedFields), for DescribeInstances: a read of a namespace's thousand servers from memory
 * instead of a list through the API server. Whether the caller may list them is still asked of the
 * API server, as the caller (a SelfSubjectAccessReview), so RBAC decides as for every other call.
 * Like EC2's DescribeInstances it is eventually consistent: a server created a moment ago shows a
 * moment later, which is why boto3's waiters retry InvalidInstanceID.NotFound. Watched only while
 * the AWS API is served.
 */
@ApplicationScoped
public class ServerViews {
  private final KubernetesClient client;
  private final WatchedNamespaces watched;
  private volatile WatchedInformer<VirtualServer> informer;

  public ServerViews(KubernetesClient client, WatchedNamespaces watched) {
    this.client = client;
    this.watched = watched;
  }

  /** Starts the watch and waits until it has listed once. */
  synchronized void start() throws Exception {
    if (informer != null) {
      return;
    }
    var started = new WatchedInformer<>(client, VirtualServer.class, watched, SlimItemStore::new);
    started.start().get(60, TimeUnit.SECONDS);
    informer = started;
  }

  synchronized void stop() {
    if (informer != null) {
      informer.stop();
      informer = null;
    }
  }

  /**
   * The servers of {@code namespace}, once {@code caller} is known to be allowed to list them;
   * refused as EC2 refuses what RBAC does not allow.
   */
  List<VirtualServer> list(KubernetesClient caller, String namespace) {
    SelfSubjectAccessReview review;
    try {
      review =
          caller
              .authorization()
              .v1()
              .selfSubjectAccessReview()
              .create(
                  new SelfSubjectAccessReviewBuilder()
                      .withNewSpec()
                      .withNewResourceAttributes()
                      .withGroup("compute.nimbus.dev")
                      .withResource("virtualservers")
                      .withVerb("list")
                      .withNamespace(namespace)
                      .endResourceAttributes()
                      .endSpec()
                      .build());
    } catch (KubernetesClientException e) {
      throw Ec2Errors.of(e);
    }
    if (review.getStatus() == null || !Boolean.TRUE.equals(review.getStatus().getAllowed())) {
      throw new Ec2Exception(
          403,
          "UnauthorizedOperation",
          "You are not authorized to perform this operation: the key's identity cannot list"
              + " resource \"virtualservers\" in API group \"compute.nimbus.dev\" in the namespace"
              + " \""
              + namespace
              + "\"");
    }
    WatchedInformer<VirtualServer> watching = informer;
    if (watching == null) {
      throw new Ec2Exception(503, "Unavailable", "The instances are not known yet: retry");
    }
    return watching.list(namespace);
  }
}
