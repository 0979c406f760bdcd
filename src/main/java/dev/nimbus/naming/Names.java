package dev.nimbus.naming;

import dev.nimbus.api.v1alpha1.ApiGroup;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.OptionalInt;

/**
 * Every name that Nimbus derives: of the objects it owns, of its labels and annotations. Nothing
 * else in the code builds such a name, so a rename happens here or nowhere.
 */
public final class Names {
  /** Labels every object that Nimbus creates, with the value {@code nimbus}. */
  public static final String MANAGED_BY = "app.kubernetes.io/managed-by";

  /** The pool whose capacity a ledger holds. */
  public static final String POOL_LABEL = ApiGroup.GROUP + "/pool";

  /** The key of a legacy ledger ConfigMap (one for the whole pool) that holds its reservations. */
  public static final String LEDGER_KEY = "reservations.json";

  /** The key of a ledger shard ConfigMap that holds the reservations on its node, as JSON. */
  public static final String LEDGER_SHARD_KEY = "shard.json";

  /** The key of a ledger shard ConfigMap that holds its node's name (too long for a label). */
  public static final String LEDGER_SHARD_NODE_KEY = "node";

  /**
   * On a legacy ledger ConfigMap that Nimbus moved into shards: when it was retired. Its {@link
   * #LEDGER_KEY} then holds a sentence, not JSON, so that a replica of an earlier Nimbus refuses to
   * decide on it instead of deciding on an empty ledger.
   */
  public static final String LEDGER_RETIRED_KEY = "retired";

  /** On a retired legacy ledger ConfigMap: its reservations, frozen when it was retired. */
  public static final String LEDGER_FROZEN_KEY = "frozen.json";

  /** On a retired legacy ledger ConfigMap: when every shard held its part of the reservations. */
  public static final String LEDGER_COPIED_KEY = "copied";

  /** Labels a ledger shard ConfigMap with a digest of its node's name (names may be too long). */
  public static final String LEDGER_NODE_LABEL = ApiGroup.GROUP + "/ledger-node";

  /** Nodes that may host a VirtualServer carry this label with the value "true". */
  public static final String KVM_NODE_LABEL = "kubevirt.io/schedulable";

  /** A node's CPU architecture, as the kubelet labels it: the architecture of the VMs on it. */
  public static final String ARCHITECTURE_LABEL = "kubernetes.io/arch";

  /** The zone of a node; a ContainerTask's subnets name zones. */
  public static final String ZONE_LABEL = "topology.kubernetes.io/zone";

  /** The name of the validating webhook for VirtualServers and ContainerTasks. */
  public static final String WEBHOOK_NAME = "workloads.compute.nimbus.dev";

  /** The name of the mutating webhook that gives created workloads their finalizer. */
  public static final String FINALIZER_WEBHOOK_NAME = "finalizers.compute.nimbus.dev";

  /**
   * Holds a VirtualServer until its instances are gone and its reservation released. The name is
   * the one the Java Operator SDK derives, which servers stored by earlier versions carry.
   */
  public static final String SERVER_FINALIZER = "virtualservers." + ApiGroup.GROUP + "/finalizer";

  /** Holds a ContainerTask until its pods are gone and its reservation released (as above). */
  public static final String TASK_FINALIZER = "containertasks." + ApiGroup.GROUP + "/finalizer";

  /** Labels a task's pod with the ContainerTask it belongs to. */
  public static final String CONTAINER_TASK_LABEL = ApiGroup.GROUP + "/containertask";

  /** Labels a task's pod with the task's index within its ContainerTask. */
  public static final String TASK_INDEX_LABEL = ApiGroup.GROUP + "/task-index";

  /**
   * On a task's pod: holds the pod until Nimbus has recorded how its task stopped, so that a pod
   * deleted, evicted or lost with its node is told STOPPED with its exit codes and never started
   * again (the Job controller tracks its pods with a finalizer for the same reason).
   */
  public static final String TASK_POD_FINALIZER = ApiGroup.GROUP + "/task-stop-recorded";

  /** Marks the pods of tasks run with assignPublicIp ENABLED, for whatever exposes them. */
  public static final String PUBLIC_IP_LABEL = ApiGroup.GROUP + "/assign-public-ip";

  /** The label Kubernetes puts on every namespace with the namespace's name. */
  public static final String NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

  /** Where the cluster's DNS runs, and the label of its pods (CoreDNS and kube-dns alike). */
  public static final String CLUSTER_DNS_NAMESPACE = "kube-system";

  public static final String CLUSTER_DNS_LABEL = "k8s-app";
  public static final String CLUSTER_DNS_LABEL_VALUE = "kube-dns";

  private Names() {}

  /** On a workload's NetworkPolicy: the security groups it enforces, comma-separated. */
  public static final String SECURITY_GROUPS_ANNOTATION = ApiGroup.GROUP + "/security-groups";

  /**
   * On a workload's NetworkPolicy: the SHA-256 of its spec as Nimbus wants it. The controllers'
   * caches keep this digest of the spec the policy has instead of the spec itself.
   */
  public static final String SPEC_DIGEST_ANNOTATION = ApiGroup.GROUP + "/spec-digest";

  /**
   * Kept on a VM in the controllers' caches only, never written: the digest of the template the VM
   * has ({@code ServerVm.templateDigest}), which the caches keep instead of the template itself, so
   * that a template someone else changed is told from the one Nimbus wrote.
   */
  public static final String OBSERVED_TEMPLATE_DIGEST_ANNOTATION =
      ApiGroup.GROUP + "/observed-template-digest";

  /**
   * On a VM's template, and so on its VMI: the instance type and node the VMI was started for. A
   * VMI whose value differs from its VM's runs an old size or placement and is restarted.
   */
  public static final String PLACEMENT_ANNOTATION = ApiGroup.GROUP + "/placement";

  /** Labels the Secrets, in the operator's namespace, that hold access keys of the AWS API. */
  public static final String ACCESS_KEY_LABEL = ApiGroup.GROUP + "/aws-access-key";

  /** The type of an access key's Secret. */
  public static final String ACCESS_KEY_SECRET_TYPE = ApiGroup.GROUP + "/aws-access-key";

  /** On an access key's Secret: the namespace its calls act in. */
  public static final String ACCESS_KEY_NAMESPACE_ANNOTATION = ApiGroup.GROUP + "/namespace";

  /** On an access key's Secret: the Kubernetes user its calls run as (impersonated). */
  public static final String ACCESS_KEY_USER_ANNOTATION = ApiGroup.GROUP + "/impersonate";

  /** Labels what the AWS API created, with the value {@link #CREATED_BY_AWS_API}. */
  public static final String CREATED_BY_LABEL = ApiGroup.GROUP + "/created-by";

  public static final String CREATED_BY_AWS_API = "aws-api";

  /** On a VirtualServer the AWS API created: the MachineImage id it was created from. */
  public static final String IMAGE_ID_ANNOTATION = ApiGroup.GROUP + "/image-id";

  /** On a VirtualServer the AWS API created: the RunInstances call's ClientToken. */
  public static final String CLIENT_TOKEN_ANNOTATION = ApiGroup.GROUP + "/client-token";

  /**
   * On a VirtualServer the AWS API created: a digest of the RunInstances call's parameters other
   * than its ClientToken, so that a retry with the same token and other parameters is told apart.
   */
  public static final String REQUEST_DIGEST_ANNOTATION = ApiGroup.GROUP + "/request-digest";

  /** On a ContainerTask the AWS API's RunTask created: the ARN of the revision it runs. */
  public static final String TASK_DEFINITION_ARN_ANNOTATION =
      ApiGroup.GROUP + "/task-definition-arn";

  /** On a VirtualServer the AWS API created: its EC2 tags, a JSON object of key to value. */
  public static final String TAGS_ANNOTATION = ApiGroup.GROUP + "/tags";

  /**
   * On a VM's template, and so on its VMI: the server's {@code spec.restartedAt} the VMI was
   * started for. A VMI whose value differs from its VM's is restarted once.
   */
  public static final String RESTARTED_AT_ANNOTATION = ApiGroup.GROUP + "/restarted-at";

  /** On an InstanceTerminated Event: the id of the instance that ended. */
  public static final String INSTANCE_ID_ANNOTATION = ApiGroup.GROUP + "/instance-id";

  /** Labels a VirtualServer's VMs (and through their template, its launcher pods). */
  public static final String VIRTUAL_SERVER_LABEL = ApiGroup.GROUP + "/virtualserver";

  /** Labels a VM with its instance's index within its VirtualServer. */
  public static final String INSTANCE_INDEX_LABEL = ApiGroup.GROUP + "/instance-index";

  /** The VM of instance {@code index} of a VirtualServer. */
  public static String serverVm(String server, int index) {
    return server + "-" + index;
  }

  /**
   * The index of instance VM (or VMI) {@code name} of VirtualServer {@code server}, read from its
   * name, which no one can change (its index label anyone who may edit it can); empty for a name
   * {@link #serverVm} does not give.
   */
  public static OptionalInt serverVmIndex(String server, String name) {
    return indexAfter(server + "-", name);
  }

  /** The Secret that holds a VirtualServer's cloud-init user data. */
  public static String userDataSecret(String server) {
    return server + "-userdata";
  }

  /** The Secret that holds the public key of a VirtualServer's key pair, for KubeVirt. */
  public static String sshKeySecret(String server) {
    return server + "-ssh-key";
  }

  /** The NetworkPolicy that enforces a VirtualServer's security groups. */
  public static String serverNetworkPolicy(String server) {
    return server + "-vsrv-secgroups";
  }

  /** The NetworkPolicy that enforces a ContainerTask's security groups. */
  public static String taskNetworkPolicy(String task) {
    return task + "-ctask-secgroups";
  }

  /** A SHA-256 digest of {@code parts}, in hex, for change detection. */
  public static String digest(String... parts) {
    return sha256Hex(String.join("\u0000", parts));
  }

  /** The EC2-style id of instance {@code index}: {@code i-} and 17 hex digits, stable. */
  public static String instanceId(String uid, int index) {
    return "i-" + sha256Hex(uid + "/instance/" + index).substring(0, 17);
  }

  /** The EC2-style id of a VirtualServer as one RunInstances reservation: {@code r-} and 17 hex. */
  public static String reservationId(String uid) {
    return "r-" + sha256Hex(uid + "/reservation").substring(0, 17);
  }

  /** The EC2-style id of a SecurityGroup: {@code sg-} and 17 hex digits, stable. */
  public static String securityGroupId(String uid) {
    return "sg-" + sha256Hex(uid + "/security-group").substring(0, 17);
  }

  /** The EC2-style id of a KeyPair: {@code key-} and 17 hex digits, stable. */
  public static String keyPairId(String uid) {
    return "key-" + sha256Hex(uid + "/key-pair").substring(0, 17);
  }

  /**
   * The name of the VirtualServer that a RunInstances call of {@code clientToken} creates in {@code
   * namespace}: the same for a retry of the call, so that a retry finds what the first attempt
   * created.
   */
  public static String runInstancesServer(String namespace, String clientToken) {
    return "ec2-" + sha256Hex(namespace + "/" + clientToken).substring(0, 20);
  }

  /** The ECS-style id of task {@code index} of a ContainerTask: 32 hex digits, stable. */
  public static String taskId(String uid, int index) {
    return sha256Hex(uid + "/" + index).substring(0, 32);
  }

  private static String sha256Hex(String text) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** {@code arn:nimbus:ecs:<namespace>:task/<cluster>/<task id>}, as ECS names tasks. */
  public static String taskArn(String namespace, String cluster, String taskId) {
    return "arn:nimbus:ecs:" + namespace + ":task/" + cluster + "/" + taskId;
  }

  /** {@code arn:nimbus:ecs:<namespace>:cluster/<pool>}, as ECS names clusters. */
  public static String clusterArn(String namespace, String pool) {
    return "arn:nimbus:ecs:" + namespace + ":cluster/" + pool;
  }

  /**
   * The TaskDefinitionRevision of {@code family}'s {@code revision}: the family in lower case with
   * '_' as '-', a dot and the revision ({@code hello-world.3}); the exact family is in its spec.
   */
  public static String taskDefinitionRevision(String family, int revision) {
    String name = family.toLowerCase(Locale.ROOT).replace('_', '-');
    return name.substring(0, Math.min(name.length(), 200)) + "." + revision;
  }

  /**
   * The name of the ContainerTask that a RunTask call of {@code clientToken} creates in {@code
   * namespace}: the same for a retry of the call.
   */
  public static String runTaskRun(String namespace, String clientToken) {
    return "ecs-" + sha256Hex(namespace + "/" + clientToken).substring(0, 20);
  }

  /** The pod of task {@code index} of a ContainerTask. */
  public static String taskPod(String task, int index) {
    return task + "-task-" + index;
  }

  /**
   * The index of pod {@code name} of ContainerTask {@code task}, read from its name, as {@link
   * #serverVmIndex} is; empty for a name {@link #taskPod} does not give.
   */
  public static OptionalInt taskPodIndex(String task, String name) {
    return indexAfter(task + "-task-", name);
  }

  private static OptionalInt indexAfter(String prefix, String name) {
    if (!name.startsWith(prefix)) {
      return OptionalInt.empty();
    }
    String digits = name.substring(prefix.length());
    boolean canonical =
        !digits.isEmpty()
            && digits.length() <= 9
            && digits.chars().allMatch(c -> c >= '0' && c <= '9')
            && (digits.length() == 1 || digits.charAt(0) != '0');
    return canonical ? OptionalInt.of(Integer.parseInt(digits)) : OptionalInt.empty();
  }

  /**
   * The label that puts a pod in a SecurityGroup: its NetworkPolicy selects the pods that carry it.
   */
  public static String securityGroupLabel(String group) {
    return "secgroup." + ApiGroup.GROUP + "/" + group;
  }

  /**
   * The ConfigMap, in the operator's namespace, that held all the reservations of a pool before
   * ledgers were kept by node: the legacy ledger, retired once moved.
   */
  public static String ledger(String pool) {
    return "nimbus-ledger-" + pool;
  }

  /**
   * The ConfigMap, in the operator's namespace, that holds the reservations of a pool on one node.
   * The dot keeps these names apart from every {@link #ledger} name.
   */
  public static String ledgerShard(String pool, String node) {
    return "nimbus-ledger." + pool + "." + ledgerNode(node);
  }

  /** The value of {@link #LEDGER_NODE_LABEL} for {@code node}. */
  public static String ledgerNode(String node) {
    return sha256Hex(node).substring(0, 16);
  }
}
