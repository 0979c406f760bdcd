package dev.nimbus.aws;

import static dev.nimbus.testing.Await.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.kubevirt.VirtualMachineInstance;
import dev.nimbus.naming.Names;
import dev.nimbus.testing.Await;
import dev.nimbus.testing.AwsSdkClients;
import dev.nimbus.testing.Fixtures;
import dev.nimbus.testing.LocalCluster;
import dev.nimbus.testing.OperatorProcess;
import dev.nimbus.testing.TestNamespace;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import software.amazon.awssdk.awscore.client.builder.AwsClientBuilder;
import software.amazon.awssdk.awscore.client.builder.AwsSyncClientBuilder;

/**
 * The AWS API driven by boto3 itself ({@code src/test/python/aws_call.py}), against an operator
 * that serves it on 127.0.0.1: every call is signed by botocore and verified by Nimbus, runs as the
 * key's Kubernetes identity, and comes back in the shape and with the error codes boto3 reads.
 */
@ExtendWith(LocalCluster.class)
class AwsApiIT {
  private static final String OPERATOR_NAMESPACE = "nimbus-aws-it";
  private static final int AWS_PORT = 19944;
  private static final String TYPE = "itaws.small";
  private static final String READER = "it-aws-instancetype-reader";
  private static final String SERVER_WRITER = "it-aws-server-writer";
  private static final String POOL = "it-aws";
  private static final String TASK_POOL = "it-aws-tasks";
  private static final String IMAGE = "ami-0c55b159cbfafe1f0";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static OperatorProcess operator;
  private static Path caFile;

  @BeforeAll
  static void startOperator() throws Exception {
    KubernetesClient client = LocalCluster.client();
    client.resource(Fixtures.instanceType(TYPE, 2, "4Gi")).serverSideApply();
    client
        .resource(
            new ClusterRoleBuilder()
                .withNewMetadata()
                .withName(READER)
                .endMetadata()
                .addNewRule()
                .withApiGroups("compute.nimbus.dev")
                .withResources("instancetypes", "machineimages", "capacitypools")
                .withVerbs("get", "list", "watch")
                .endRule()
                .build())
        .serverSideApply();
    client
        .resource(
            new ClusterRoleBuilder()
                .withNewMetadata()
                .withName(SERVER_WRITER)
                .endMetadata()
                .addNewRule()
                .withApiGroups("compute.nimbus.dev")
                .withResources(
                    "virtualservers",
                    "keypairs",
                    "securitygroups",
                    "containertasks",
                    "taskdefinitionrevisions")
                .withVerbs("get", "list", "watch", "create", "update", "patch", "delete")
                .endRule()
                .addNewRule()
                .withApiGroups("")
                .withResources("pods")
                .withVerbs("get", "list", "delete")
                .endRule()
                .addNewRule()
                .withApiGroups("")
                .withResources("events")
                .withVerbs("get", "list")
                .endRule()
                .build())
        .serverSideApply();
    client.resource(Fixtures.serverPool(POOL, "nimbus.dev/node-group", "kvm")).serverSideApply();
    CapacityPool servers = Fixtures.serverPool(TASK_POOL, "nimbus.dev/node-group", "plain");
    CapacityPool tasks = new CapacityPool();
    tasks.setMetadata(servers.getMetadata());
    tasks.setSpec(
        new CapacityPoolSpec(
            servers.getSpec().nodeSelector(),
            servers.getSpec().ratios(),
            servers.getSpec().reserved(),
            List.of(CapacityPoolSpec.WorkloadKind.ContainerTask),
            null,
            null));
    client.resource(tasks).serverSideApply();
    // The image the seed's create_instances names, as deploy/samples registers it.
    client.resource(Fixtures.sampleMachineImage(client)).serverSideApply();
    operator =
        OperatorProcess.forTests(
            "it-aws-operator",
            OPERATOR_NAMESPACE,
            19943,
            Map.of(
                "nimbus.aws.enabled", "true",
                "nimbus.aws.host", "127.0.0.1",
                "nimbus.aws.port", Integer.toString(AWS_PORT),
                // Short, so that a run RunTask started is seen to go once its tasks stopped.
                "nimbus.aws.stopped-task-retention", "PT20S"));
    Secret serving =
        client.secrets().inNamespace(OPERATOR_NAMESPACE).withName("nimbus-webhook-tls").get();
    caFile = Files.createTempFile("nimbus-aws-ca", ".crt");
    Files.write(caFile, Base64.getDecoder().decode(serving.getData().get("ca.crt")));
  }

  @AfterAll
  static void stopOperator() {
    if (operator != null) {
      operator.close();
    }
    KubernetesClient client = LocalCluster.client();
    client
        .secrets()
        .inNamespace(OPERATOR_NAMESPACE)
        .withLabel(Names.ACCESS_KEY_LABEL, "true")
        .delete();
    client.rbac().clusterRoles().withName(READER).delete();
    client.rbac().clusterRoles().withName(SERVER_WRITER).delete();
    client.resources(CapacityPool.class).withName(POOL).delete();
    client.resources(CapacityPool.class).withName(TASK_POOL).delete();
    client.resources(InstanceType.class).withName(TYPE).delete();
  }

  /** Each test leaves no server behind: the operator that ends them stops after the class. */
  @AfterEach
  void deleteServers(KubernetesClient client, TestNamespace namespace) throws Exception {
    var servers = client.resources(VirtualServer.class).inNamespace(namespace.name());
    var runs = client.resources(ContainerTask.class).inNamespace(namespace.name());
    servers.delete();
    runs.delete();
    awaitTrue(() -> servers.list().getItems().isEmpty() && runs.list().getItems().isEmpty(), 60);
  }

  @Test
  void describeInstanceTypesAnswersBoto3AsTheKeysIdentity(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String user = serviceAccount(client, namespace, "deployer", true);
    Key key = issueKey(client, namespace, user);
    awaitKnown(key);

    JsonNode answer =
        call(key, "ec2", "describe_instance_types", Map.of("InstanceTypes", List.of(TYPE)));

    JsonNode type = answer.at("/response/InstanceTypes/0");
    assertThat(answer.at("/response/InstanceTypes").size()).isEqualTo(1);
    assertThat(type.at("/InstanceType").asText()).isEqualTo(TYPE);
    assertThat(type.at("/VCpuInfo/DefaultVCpus").asInt()).isEqualTo(2);
    assertThat(type.at("/MemoryInfo/SizeInMiB").asLong()).isEqualTo(4096);
    assertThat(type.at("/ProcessorInfo/SupportedArchitectures/0").asText()).isEqualTo("x86_64");
    JsonNode all = call(key, "ec2", "describe_instance_types", Map.of());
    assertThat(all.at("/response/InstanceTypes").findValuesAsText("InstanceType")).contains(TYPE);
    // The AWS CLI, as a user types it.
    JsonNode cli =
        JSON.readTree(
            aws(
                key,
                "ec2",
                "describe-instance-types",
                "--instance-types",
                TYPE,
                "--output",
                "json"));
    assertThat(cli.at("/InstanceTypes/0/VCpuInfo/DefaultVCpus").asInt()).isEqualTo(2);
    JsonNode unknown =
        call(key, "ec2", "describe_instance_types", Map.of("InstanceTypes", List.of("no.such")));
    assertThat(unknown.at("/error/Code").asText()).isEqualTo("InvalidInstanceType");
    assertThat(
            operator.gauge(
                "nimbus_aws_requests_total",
                "action=\"DescribeInstanceTypes\",code=\"InvalidInstanceType\""))
        .as("calls are counted by action and answer")
        .isGreaterThanOrEqualTo(1);
    assertThat(unknown.at("/error/Message").asText()).contains("no.such");
  }

  @Test
  void eachRefusalIsTheOneAwsGivesForItsCause(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    String withoutRights = serviceAccount(client, namespace, "nobody", false);
    Key key = issueKey(client, namespace, withoutRights);
    awaitKnown(key);

    JsonNode forbidden = call(key, "ec2", "describe_instance_types", Map.of());
    assertThat(forbidden.at("/error/Code").asText()).isEqualTo("UnauthorizedOperation");
    assertThat(forbidden.at("/status").asInt()).isEqualTo(403);
    assertThat(forbidden.at("/error/Message").asText()).contains(withoutRights);

    JsonNode wrongSecret =
        call(new Key(key.id(), key.secret() + "x"), "ec2", "describe_instance_types", Map.of());
    assertThat(wrongSecret.at("/error/Code").asText()).isEqualTo("SignatureDoesNotMatch");
    assertThat(wrongSecret.at("/status").asInt()).isEqualTo(403);

    JsonNode unknownKey =
        call(
            new Key("AKIANIMBUSNOSUCHKEY1", key.secret()),
            "ec2",
            "describe_instance_types",
            Map.of());
    assertThat(unknownKey.at("/error/Code").asText()).isEqualTo("AuthFailure");
    assertThat(unknownKey.at("/status").asInt()).isEqualTo(401);

    JsonNode notYet = call(key, "ec2", "describe_volumes", Map.of());
    assertThat(notYet.at("/error/Code").asText()).isEqualTo("InvalidAction");
    assertThat(
            call(key, "ec2", "describe_instance_types", Map.of(), "unsigned")
                .at("/error/Code")
                .asText())
        .isEqualTo("AuthFailure");
    assertThat(
            call(key, "ec2", "describe_instance_types", Map.of(), "expired")
                .at("/error/Code")
                .asText())
        .isEqualTo("RequestExpired");
    assertThat(call(key, "ecs", "list_clusters", Map.of(), "unsigned").at("/error/Code").asText())
        .isEqualTo("MissingAuthenticationTokenException");
    assertThat(call(key, "ecs", "list_clusters", Map.of(), "expired").at("/error/Code").asText())
        .isEqualTo("InvalidSignatureException");
    assertThat(call(key, "ec2", "describe_instances", Map.of()).at("/error/Code").asText())
        .as("DescribeInstances reads the operator's watch only for who may list VirtualServers")
        .isEqualTo("UnauthorizedOperation");
    JsonNode noServers =
        call(
            key,
            "ec2",
            "run_instances",
            Map.of("ImageId", IMAGE, "MinCount", 1, "MaxCount", 1, "InstanceType", TYPE));
    assertThat(noServers.at("/error/Code").asText()).isEqualTo("UnauthorizedOperation");

    client.secrets().inNamespace(OPERATOR_NAMESPACE).withName(secretName(key)).delete();
    awaitTrue(
        () -> "AuthFailure".equals(codeOf(key)),
        30,
        () -> "a revoked key still answers " + codeOf(key));
  }

  /**
   * What boto3 would refuse to send, sent with its validation off, and the ids of another
   * namespace: each is the client error EC2 or ECS gives for it (4xx), never a 5xx, and nothing is
   * created; a key never sees or ends what its namespace does not hold.
   */
  @Test
  void missingOrMistypedParametersAndAnotherNamespacesIdsAreClientErrors(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    Key key = deployerKey(client, namespace);
    Map<String, Object> mistyped = new LinkedHashMap<>();
    mistyped.put("ImageId", IMAGE);
    mistyped.put("MinCount", "many");
    mistyped.put("MaxCount", 1);
    mistyped.put("InstanceType", TYPE);
    Map<String, Object> missing = new LinkedHashMap<>(mistyped);
    missing.remove("ImageId");
    missing.put("MinCount", 1);
    Map<String, Object> badTask = new LinkedHashMap<>();
    badTask.put("cluster", TASK_POOL);
    badTask.put("taskDefinition", "nothing-registered");
    badTask.put("count", "several");

    for (var bad :
        List.of(
            Map.entry(
                "ec2 run_instances MinCount=many",
                call(key, "ec2", "run_instances", mistyped, "unvalidated")),
            Map.entry(
                "ec2 run_instances without ImageId",
                call(key, "ec2", "run_instances", missing, "unvalidated")),
            Map.entry(
                "ec2 describe_instances MaxResults=-1",
                call(key, "ec2", "describe_instances", Map.of("MaxResults", -1), "unvalidated")),
            Map.entry(
                "ecs run_task count=several", call(key, "ecs", "run_task", badTask, "unvalidated")),
            Map.entry(
                "ecs describe_tasks without tasks",
                call(key, "ecs", "describe_tasks", Map.of(), "unvalidated")))) {
      assertThat(bad.getValue().at("/error/Code").asText())
          .as(bad.getKey() + ": " + bad.getValue())
          .isNotBlank();
      assertThat(bad.getValue().at("/status").asInt())
          .as(bad.getKey() + ": " + bad.getValue())
          .isBetween(400, 499);
    }
    assertThat(
            call(key, "ec2", "run_instances", mistyped, "unvalidated").at("/error/Code").asText())
        .isEqualTo("InvalidParameterValue");
    assertThat(call(key, "ec2", "run_instances", missing, "unvalidated").at("/error/Code").asText())
        .isEqualTo("MissingParameter");
    assertThat(
            client.resources(VirtualServer.class).inNamespace(namespace.name()).list().getItems())
        .isEmpty();

    // A server of another namespace: its ids are unknown to this namespace's key.
    String other = namespace.name() + "-other";
    Fixtures.namespace(client, other);
    try {
      VirtualServer elsewhere = new VirtualServer();
      elsewhere.setMetadata(
          new ObjectMetaBuilder().withName("elsewhere").withNamespace(other).build());
      elsewhere.setSpec(
          new VirtualServerSpec(
              "quay.io/containerdisks/fedora:40", TYPE, 1, 1, null, null, null, POOL, true, false));
      String instanceId =
          client
              .resource(client.resource(elsewhere).create())
              .waitUntilCondition(
                  s ->
                      s.getStatus() != null
                          && s.getStatus().instances() != null
                          && !s.getStatus().instances().isEmpty(),
                  60,
                  TimeUnit.SECONDS)
              .getStatus()
              .instances()
              .get(0)
              .instanceId();
      for (String operation :
          List.of(
              "describe_instances", "stop_instances", "terminate_instances", "reboot_instances")) {
        assertThat(
                call(key, "ec2", operation, Map.of("InstanceIds", List.of(instanceId)))
                    .at("/error/Code")
                    .asText())
            .as(operation + " of another namespace's instance")
            .isEqualTo("InvalidInstanceID.NotFound");
      }
      assertThat(
              client
                  .resources(VirtualServer.class)
                  .inNamespace(other)
                  .withName("elsewhere")
                  .get()
                  .getSpec()
                  .maxCount())
          .isEqualTo(1);
    } finally {
      client.resources(VirtualServer.class).inNamespace(other).withName("elsewhere").delete();
      awaitTrue(
          () ->
              client.resources(VirtualServer.class).inNamespace(other).list().getItems().isEmpty(),
          60);
      client.namespaces().withName(other).delete();
    }
  }

  /**
   * The seed's create_instances call, as boto3 sends it: one VirtualServer that kubectl sees, the
   * same reservation again for a retry with the same ClientToken, instances that DescribeInstances
   * shows running with their tags, a DryRun that creates nothing, EC2's capacity error with the
   * webhook's numbers, and TerminateInstances that ends the highest instance first and then the
   * reservation.
   */
  @Test
  void runDescribeAndTerminateInstancesAreVirtualServers(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String user = serviceAccount(client, namespace, "deployer", true);
    writesServers(client, namespace, "deployer");
    client.resource(Fixtures.keyPair(namespace.name())).create();
    String webId = webGroupId(client, namespace);
    Key key = issueKey(client, namespace, user);
    awaitKnown(key);
    Map<String, Object> seed = new LinkedHashMap<>();
    seed.put("ImageId", IMAGE);
    seed.put("MinCount", 1);
    seed.put("MaxCount", 2);
    seed.put("InstanceType", TYPE);
    seed.put("KeyName", "deployer");
    seed.put("SecurityGroupIds", List.of(webId));
    seed.put("UserData", "#!/bin/bash\napt-get install -y apache2\n");
    seed.put("Placement", Map.of("GroupName", POOL));
    seed.put("ClientToken", "seed-" + namespace.name());
    seed.put(
        "TagSpecifications",
        List.of(
            Map.of(
                "ResourceType",
                "instance",
                "Tags",
                List.of(Map.of("Key", "Name", "Value", "web")))));

    JsonNode run = call(key, "ec2", "run_instances", seed);

    assertThat(run.at("/error").isMissingNode()).as("%s", run).isTrue();
    String reservation = run.at("/response/ReservationId").asText();
    assertThat(reservation).matches("r-[0-9a-f]{17}");
    List<String> ids = run.at("/response/Instances").findValuesAsText("InstanceId");
    assertThat(ids).hasSize(2).allSatisfy(id -> assertThat(id).matches("i-[0-9a-f]{17}"));
    assertThat(run.at("/response/Instances/0/ImageId").asText()).isEqualTo(IMAGE);
    var servers = client.resources(VirtualServer.class).inNamespace(namespace.name());
    VirtualServer server = servers.list().getItems().get(0);
    assertThat(servers.list().getItems()).hasSize(1);
    assertThat(server.getMetadata().getLabels()).containsEntry(Names.CREATED_BY_LABEL, "aws-api");
    assertThat(server.getSpec().image()).isEqualTo("quay.io/containerdisks/fedora:40");
    assertThat(server.getSpec().userData()).isEqualTo("#!/bin/bash\napt-get install -y apache2\n");
    assertThat(server.getSpec().pool()).isEqualTo(POOL);
    assertThat(server.getSpec().securityGroups()).containsExactly("web");
    assertThat(webId).matches("sg-[0-9a-f]{17}");
    assertThat(call(key, "ec2", "run_instances", seed).at("/response/ReservationId").asText())
        .as("a retry with the same ClientToken")
        .isEqualTo(reservation);
    Map<String, Object> other = new LinkedHashMap<>(seed);
    other.put("MaxCount", 3);
    assertThat(call(key, "ec2", "run_instances", other).at("/error/Code").asText())
        .as("the same ClientToken with other parameters")
        .isEqualTo("IdempotentParameterMismatch");
    assertThat(servers.list().getItems()).hasSize(1);

    Map<String, Object> these = Map.of("InstanceIds", ids);
    assertWaited(key, "ec2", "instance_running", these);
    assertThat(running(key, "web")).hasSize(2);
    JsonNode described = describe(key, Map.of("InstanceIds", List.of(ids.get(0))));
    JsonNode instance = described.at("/response/Reservations/0/Instances/0");
    assertThat(described.at("/response/Reservations/0/ReservationId").asText())
        .isEqualTo(reservation);
    assertThat(instance.at("/State/Name").asText()).isEqualTo("running");
    assertThat(instance.at("/State/Code").asInt()).isEqualTo(16);
    assertThat(instance.at("/PrivateIpAddress").asText()).isNotBlank();
    assertThat(instance.at("/Tags/0/Key").asText()).isEqualTo("Name");
    assertThat(instance.at("/KeyName").asText()).isEqualTo("deployer");

    JsonNode partial =
        call(key, "ec2", "stop_instances", Map.of("InstanceIds", List.of(ids.get(0))));
    assertThat(partial.at("/error/Code").asText()).isEqualTo("UnsupportedOperation");
    JsonNode stopping = call(key, "ec2", "stop_instances", these);
    assertThat(stopping.at("/response/StoppingInstances").findValuesAsText("Name"))
        .contains("stopping");
    assertWaited(key, "ec2", "instance_stopped", these);
    call(key, "ec2", "start_instances", these);
    assertWaited(key, "ec2", "instance_running", these);

    // A reboot restarts every VMI of the reservation once; the instances keep their ids.
    var vmis = client.resources(VirtualMachineInstance.class).inNamespace(namespace.name());
    List<String> before =
        vmis.list().getItems().stream().map(vmi -> vmi.getMetadata().getUid()).toList();
    assertThat(
            call(key, "ec2", "reboot_instances", Map.of("InstanceIds", List.of(ids.get(0))))
                .at("/error/Code")
                .asText())
        .isEqualTo("UnsupportedOperation");
    JsonNode rebooted = call(key, "ec2", "reboot_instances", these);
    assertThat(rebooted.at("/error").isMissingNode()).as("%s", rebooted).isTrue();
    awaitTrue(
        () -> {
          var now = vmis.list().getItems();
          return now.size() == 2
              && now.stream().noneMatch(vmi -> before.contains(vmi.getMetadata().getUid()));
        },
        120,
        () -> "VMIs not restarted: " + vmis.list().getItems().size());
    assertWaited(key, "ec2", "instance_running", these);
    assertThat(stateNames(key, ids)).containsExactly("running", "running");

    Map<String, Object> dry = new LinkedHashMap<>(seed);
    dry.put("ClientToken", "dry-" + namespace.name());
    dry.put("DryRun", true);
    assertThat(call(key, "ec2", "run_instances", dry).at("/error/Code").asText())
        .isEqualTo("DryRunOperation");
    Map<String, Object> tooMany = new LinkedHashMap<>(seed);
    tooMany.put("ClientToken", "many-" + namespace.name());
    tooMany.put("MinCount", 30);
    tooMany.put("MaxCount", 30);
    JsonNode refused = call(key, "ec2", "run_instances", tooMany);
    assertThat(refused.at("/error/Code").asText()).isEqualTo("InsufficientInstanceCapacity");
    assertThat(refused.at("/error/Message").asText()).contains("pool \"" + POOL + "\"");
    assertThat(servers.list().getItems()).hasSize(1);

    JsonNode lowFirst =
        call(key, "ec2", "terminate_instances", Map.of("InstanceIds", List.of(ids.get(0))));
    assertThat(lowFirst.at("/error/Code").asText()).isEqualTo("UnsupportedOperation");
    JsonNode high =
        call(key, "ec2", "terminate_instances", Map.of("InstanceIds", List.of(ids.get(1))));
    assertThat(high.at("/response/TerminatingInstances/0/CurrentState/Name").asText())
        .isEqualTo("shutting-down");
    assertThat(servers.list().getItems().get(0).getSpec().maxCount()).isEqualTo(1);
    assertWaited(key, "ec2", "instance_terminated", Map.of("InstanceIds", List.of(ids.get(1))));
    JsonNode both = describe(key, these);
    assertThat(both.at("/response/Reservations").size()).as("%s", both).isEqualTo(1);
    assertThat(both.at("/response/Reservations/0/Instances").findValuesAsText("Name"))
        .containsExactly("running", "terminated");
    JsonNode last =
        call(key, "ec2", "terminate_instances", Map.of("InstanceIds", List.of(ids.get(0))));
    assertThat(last.at("/error").isMissingNode()).as("%s", last).isTrue();
    assertWaited(key, "ec2", "instance_terminated", these);
    assertThat(servers.list().getItems()).isEmpty();
    assertThat(
            describe(
                    key,
                    Map.of(
                        "Filters",
                        List.of(
                            Map.of(
                                "Name", "instance-state-name", "Values", List.of("terminated")))))
                .at("/response/Reservations/0/Instances")
                .findValuesAsText("InstanceId"))
        .containsExactlyInAnyOrderElementsOf(ids);
  }

  /**
   * The seed's two calls through the AWS SDK for Java v2, as Java code makes them with only the
   * endpoint, region and credentials set: RunInstances and RunTask, each waited for with the SDK's
   * own waiters until running, then ended and waited for until terminated and stopped; an unknown
   * image is the exception with EC2's code.
   */
  @Test
  void theJavaSdkMakesTheSeedsCallsAndItsWaitersPass(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    Key key = deployerKey(client, namespace);
    client.resource(Fixtures.keyPair(namespace.name())).create();
    String webId = webGroupId(client, namespace);
    Consumer<software.amazon.awssdk.core.waiters.WaiterOverrideConfiguration.Builder> every2s =
        o ->
            o.maxAttempts(90)
                .backoffStrategyV2(
                    software.amazon.awssdk.retries.api.BackoffStrategy.fixedDelay(
                        Duration.ofSeconds(2)));
    try (var ec2 = sdk(software.amazon.awssdk.services.ec2.Ec2Client.builder(), key);
        var ecs = sdk(software.amazon.awssdk.services.ecs.EcsClient.builder(), key)) {
      var run =
          ec2.runInstances(
              r ->
                  r.imageId(IMAGE)
                      .minCount(1)
                      .maxCount(2)
                      .instanceType(TYPE)
                      .keyName("deployer")
                      .securityGroupIds(webId)
                      .userData(
                          Base64.getEncoder()
                              .encodeToString(
                                  "#!/bin/bash\napt-get install -y apache2\n"
                                      .getBytes(StandardCharsets.UTF_8)))
                      .placement(p -> p.groupName(POOL)));
      List<String> ids =
          run.instances().stream()
              .map(software.amazon.awssdk.services.ec2.model.Instance::instanceId)
              .toList();
      assertThat(ids).hasSize(2);
      var running = ec2.waiter().waitUntilInstanceRunning(r -> r.instanceIds(ids), every2s);
      assertThat(running.matched().response()).isPresent();
      ec2.terminateInstances(r -> r.instanceIds(ids));
      var terminated = ec2.waiter().waitUntilInstanceTerminated(r -> r.instanceIds(ids), every2s);
      assertThat(terminated.matched().response()).isPresent();
      var unknownImage =
          org.assertj.core.api.Assertions.catchThrowableOfType(
              software.amazon.awssdk.services.ec2.model.Ec2Exception.class,
              () ->
                  ec2.runInstances(
                      r -> r.imageId("ami-00000000").minCount(1).maxCount(1).instanceType(TYPE)));
      assertThat(unknownImage.awsErrorDetails().errorCode()).isEqualTo("InvalidAMIID.NotFound");

      ecs.registerTaskDefinition(
          r ->
              r.family("my-task-definition")
                  .requiresCompatibilities(
                      software.amazon.awssdk.services.ecs.model.Compatibility.FARGATE)
                  .networkMode(software.amazon.awssdk.services.ecs.model.NetworkMode.AWSVPC)
                  .cpu("256")
                  .memory("512")
                  .containerDefinitions(c -> c.name("app").image("busybox:1.36").essential(true)));
      var task =
          ecs.runTask(
              r ->
                  r.cluster(TASK_POOL)
                      .launchType(software.amazon.awssdk.services.ecs.model.LaunchType.FARGATE)
                      .taskDefinition("my-task-definition")
                      .count(1)
                      .platformVersion("LATEST")
                      .networkConfiguration(
                          n ->
                              n.awsvpcConfiguration(
                                  a ->
                                      a.subnets("zone-a")
                                          .securityGroups("web")
                                          .assignPublicIp(
                                              software.amazon.awssdk.services.ecs.model
                                                  .AssignPublicIp.ENABLED))));
      assertThat(task.failures()).isEmpty();
      String taskArn = task.tasks().get(0).taskArn();
      assertThat(
              ecs.waiter()
                  .waitUntilTasksRunning(r -> r.cluster(TASK_POOL).tasks(taskArn), every2s)
                  .matched()
                  .response())
          .isPresent();
      ecs.stopTask(r -> r.cluster(TASK_POOL).task(taskArn));
      assertThat(
              ecs.waiter()
                  .waitUntilTasksStopped(r -> r.cluster(TASK_POOL).tasks(taskArn), every2s)
                  .matched()
                  .response())
          .isPresent();
    }
  }

  /** An AWS SDK for Java v2 client of the endpoint, with the key and the endpoint's CA. */
  private static <C, B extends AwsSyncClientBuilder<B, C> & AwsClientBuilder<B, C>> C sdk(
      B builder, Key key) throws Exception {
    return AwsSdkClients.of(
        builder, URI.create("https://127.0.0.1:" + AWS_PORT), caFile, key.id(), key.secret());
  }

  /**
   * Creates the namespace's group "web" and returns its {@code sg-} id once its status shows it.
   */
  private static String webGroupId(KubernetesClient client, TestNamespace namespace) {
    return client
        .resource(client.resource(Fixtures.webGroup(namespace.name())).create())
        .waitUntilCondition(
            g -> g.getStatus() != null && g.getStatus().groupId() != null, 30, TimeUnit.SECONDS)
        .getStatus()
        .groupId();
  }

  /** Waits with one of boto3's own waiters, polling every 2 s, and asserts that it succeeded. */
  private static void assertWaited(Key key, String service, String waiter, Map<String, ?> arguments)
      throws Exception {
    JsonNode waited = call(key, service, "wait:" + waiter, arguments);
    assertThat(waited.at("/error").isMissingNode()).as("%s: %s", waiter, waited).isTrue();
  }

  /**
   * DescribeInstances pages whole reservations: MaxResults 5 over three reservations of two
   * instances gives two, then the third; the AWS CLI follows the NextToken by itself.
   */
  @Test
  void describeInstancesPagesWholeReservations(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    Key key = deployerKey(client, namespace);
    List<String> reservations = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      JsonNode run =
          call(
              key,
              "ec2",
              "run_instances",
              Map.of(
                  "ImageId",
                  IMAGE,
                  "MinCount",
                  2,
                  "MaxCount",
                  2,
                  "InstanceType",
                  TYPE,
                  "Placement",
                  Map.of("GroupName", POOL)));
      reservations.add(run.at("/response/ReservationId").asText());
    }
    // The third as a user types it, and waited for as the AWS CLI waits.
    JsonNode typed =
        JSON.readTree(
            aws(
                key,
                "ec2",
                "run-instances",
                "--image-id",
                IMAGE,
                "--count",
                "2",
                "--instance-type",
                TYPE,
                "--placement",
                "GroupName=" + POOL,
                "--output",
                "json"));
    reservations.add(typed.at("/ReservationId").asText());
    List<String> typedIds = typed.at("/Instances").findValuesAsText("InstanceId");
    assertThat(typedIds).hasSize(2);
    List<String> waitArgs = new ArrayList<>(List.of("ec2", "wait", "instance-running"));
    waitArgs.add("--instance-ids");
    waitArgs.addAll(typedIds);
    aws(key, waitArgs.toArray(String[]::new));
    awaitTrue(
        () ->
            describe(key, Map.of()).at("/response/Reservations").findValues("InstanceId").size()
                == 6,
        30);

    JsonNode first = describe(key, Map.of("MaxResults", 5));
    JsonNode second =
        describe(
            key, Map.of("MaxResults", 5, "NextToken", first.at("/response/NextToken").asText()));

    assertThat(first.at("/response/Reservations").size()).isEqualTo(2);
    assertThat(second.at("/response/Reservations").size()).isEqualTo(1);
    assertThat(second.at("/response/NextToken").isMissingNode()).isTrue();
    List<String> paged =
        new ArrayList<>(first.at("/response/Reservations").findValuesAsText("ReservationId"));
    paged.addAll(second.at("/response/Reservations").findValuesAsText("ReservationId"));
    assertThat(paged).containsExactlyInAnyOrderElementsOf(reservations);
    JsonNode cli =
        JSON.readTree(
            aws(key, "ec2", "describe-instances", "--page-size", "5", "--output", "json"));
    assertThat(cli.at("/Reservations").findValuesAsText("ReservationId"))
        .containsExactlyInAnyOrderElementsOf(reservations);
    assertThat(describe(key, Map.of("NextToken", "bm9wZQ")).at("/error/Code").asText())
        .isEqualTo("InvalidParameterValue");
  }

  /**
   * ECS on ContainerTasks: the pool is a cluster (ListClusters, DescribeClusters with the tasks
   * counted), its tasks are listed and described with their ARNs, a task ARN that does not exist is
   * a MISSING failure, and StopTask stops one task for good (UserInitiated), as ECS does.
   */
  @Test
  void ecsSeesContainerTasksAndStopsOneTask(KubernetesClient client, TestNamespace namespace)
      throws Exception {
    Key key = deployerKey(client, namespace);
    var run = new ContainerTask();
    run.setMetadata(
        new ObjectMetaBuilder().withName("hello").withNamespace(namespace.name()).build());
    run.setSpec(
        new ContainerTaskSpec(
            TASK_POOL,
            ContainerTaskSpec.LaunchType.FARGATE,
            new TaskDefinition(
                "hello",
                256,
                512,
                List.of(
                    new ContainerDefinition(
                        "hello", "busybox:1.36", null, null, null, true, null))),
            2,
            "LATEST",
            null));
    Await.createWhenReferencesKnown(client, run);
    String clusterArn = "arn:nimbus:ecs:" + namespace.name() + ":cluster/" + TASK_POOL;
    awaitTrue(
        () ->
            quietly(key, "ecs", "describe_clusters", Map.of("clusters", List.of(TASK_POOL)))
                    .at("/response/clusters/0/runningTasksCount")
                    .asInt()
                == 2,
        60);
    List<String> taskArns = new ArrayList<>();
    call(key, "ecs", "list_tasks", Map.of("cluster", clusterArn))
        .at("/response/taskArns")
        .forEach(a -> taskArns.add(a.asText()));
    assertThat(taskArns).hasSize(2);

    assertThat(call(key, "ecs", "list_clusters", Map.of()).at("/response/clusterArns").toString())
        .contains(clusterArn);
    JsonNode described =
        call(
            key,
            "ecs",
            "describe_tasks",
            Map.of("cluster", TASK_POOL, "tasks", List.of(taskArns.get(0), "no-such-task")));
    assertThat(described.at("/response/tasks/0/taskArn").asText()).isEqualTo(taskArns.get(0));
    assertThat(described.at("/response/tasks/0/lastStatus").asText()).isEqualTo("RUNNING");
    assertThat(described.at("/response/tasks/0/clusterArn").asText()).isEqualTo(clusterArn);
    assertThat(described.at("/response/tasks/0/containers/0/name").asText()).isEqualTo("hello");
    assertThat(described.at("/response/failures/0/reason").asText()).isEqualTo("MISSING");

    JsonNode stopped =
        call(key, "ecs", "stop_task", Map.of("cluster", TASK_POOL, "task", taskArns.get(0)));

    assertThat(stopped.at("/response/task/desiredStatus").asText()).isEqualTo("STOPPED");
    awaitTrue(
        () ->
            "STOPPED"
                .equals(
                    quietly(key, "ecs", "describe_tasks", Map.of("tasks", List.of(taskArns.get(0))))
                        .at("/response/tasks/0/lastStatus")
                        .asText()),
        60);
    JsonNode after = call(key, "ecs", "describe_tasks", Map.of("tasks", List.of(taskArns.get(0))));
    assertThat(after.at("/response/tasks/0/stopCode").asText()).isEqualTo("UserInitiated");
    assertThat(
            JSON.readTree(aws(key, "ecs", "list-tasks", "--cluster", TASK_POOL, "--output", "json"))
                .at("/taskArns")
                .size())
        .as("the other task runs on")
        .isEqualTo(1);
    assertThat(
            call(new Key("AKIANIMBUSNOSUCHKEY1", key.secret()), "ecs", "list_clusters", Map.of())
                .at("/error/Code")
                .asText())
        .isEqualTo("UnrecognizedClientException");
  }

  /**
   * The seed's run_task, with securityGroups inside awsvpcConfiguration where boto3 takes them: the
   * task definition registered first (revisions 1 and 2), RunTask of revision 1 is a ContainerTask
   * that kubectl sees, a retry with the same clientToken is the same task, and a run the pool has
   * no room for is ECS's RESOURCE:CPU failure with no task.
   */
  @Test
  void theSeedsRunTaskRunsARegisteredTaskDefinition(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    String user = serviceAccount(client, namespace, "deployer", true);
    writesServers(client, namespace, "deployer");
    client.resource(Fixtures.webGroup(namespace.name())).create();
    Key key = issueKey(client, namespace, user);
    awaitKnown(key);
    Map<String, Object> definition =
        Map.of(
            "family", "my-task-definition",
            "requiresCompatibilities", List.of("FARGATE"),
            "networkMode", "awsvpc",
            "cpu", "256",
            "memory", "512",
            "containerDefinitions",
                List.of(Map.of("name", "app", "image", "busybox:1.36", "essential", true)));

    JsonNode first = call(key, "ecs", "register_task_definition", definition);
    JsonNode second = call(key, "ecs", "register_task_definition", definition);

    assertThat(first.at("/response/taskDefinition/revision").asInt()).isEqualTo(1);
    assertThat(second.at("/response/taskDefinition/revision").asInt()).isEqualTo(2);
    assertThat(
            call(
                    key,
                    "ecs",
                    "describe_task_definition",
                    Map.of("taskDefinition", "my-task-definition"))
                .at("/response/taskDefinition/revision")
                .asInt())
        .as("the latest revision")
        .isEqualTo(2);
    assertThat(
            call(key, "ecs", "list_task_definitions", Map.of())
                .at("/response/taskDefinitionArns")
                .size())
        .isEqualTo(2);
    Map<String, Object> seed = new LinkedHashMap<>();
    seed.put("cluster", TASK_POOL);
    seed.put("launchType", "FARGATE");
    seed.put("taskDefinition", "my-task-definition:1");
    seed.put("count", 1);
    seed.put("platformVersion", "LATEST");
    seed.put("clientToken", "seed-" + namespace.name());
    seed.put(
        "networkConfiguration",
        Map.of(
            "awsvpcConfiguration",
            Map.of(
                "subnets", List.of("zone-a"),
                "assignPublicIp", "ENABLED",
                "securityGroups", List.of("web"))));

    JsonNode run = call(key, "ecs", "run_task", seed);

    assertThat(run.at("/error").isMissingNode()).as("%s", run).isTrue();
    String taskArn = run.at("/response/tasks/0/taskArn").asText();
    assertThat(taskArn)
        .startsWith("arn:nimbus:ecs:" + namespace.name() + ":task/" + TASK_POOL + "/");
    assertThat(run.at("/response/tasks/0/taskDefinitionArn").asText())
        .isEqualTo(first.at("/response/taskDefinition/taskDefinitionArn").asText());
    var stored =
        client.resources(ContainerTask.class).inNamespace(namespace.name()).list().getItems();
    assertThat(stored).hasSize(1);
    assertThat(stored.get(0).getMetadata().getLabels())
        .containsEntry(Names.CREATED_BY_LABEL, "aws-api");
    assertThat(
            stored.get(0).getSpec().networkConfiguration().awsvpcConfiguration().securityGroups())
        .containsExactly("web");
    assertThat(call(key, "ecs", "run_task", seed).at("/response/tasks/0/taskArn").asText())
        .as("a retry with the same clientToken")
        .isEqualTo(taskArn);
    assertWaited(
        key, "ecs", "tasks_running", Map.of("cluster", TASK_POOL, "tasks", List.of(taskArn)));

    // Revision 2 through the AWS CLI, as a user types it, waited for and stopped.
    JsonNode typed =
        JSON.readTree(
            aws(
                key,
                "ecs",
                "run-task",
                "--cluster",
                TASK_POOL,
                "--task-definition",
                "my-task-definition:2",
                "--launch-type",
                "FARGATE",
                "--network-configuration",
                "awsvpcConfiguration={subnets=[zone-a],securityGroups=[web],assignPublicIp=ENABLED}",
                "--output",
                "json"));
    String typedArn = typed.at("/tasks/0/taskArn").asText();
    assertThat(typed.at("/tasks/0/taskDefinitionArn").asText())
        .isEqualTo(second.at("/response/taskDefinition/taskDefinitionArn").asText());
    aws(key, "ecs", "wait", "tasks-running", "--cluster", TASK_POOL, "--tasks", typedArn);
    aws(key, "ecs", "stop-task", "--cluster", TASK_POOL, "--task", typedArn, "--output", "json");
    aws(key, "ecs", "wait", "tasks-stopped", "--cluster", TASK_POOL, "--tasks", typedArn);
    call(key, "ecs", "stop_task", Map.of("cluster", TASK_POOL, "task", taskArn));
    assertWaited(
        key, "ecs", "tasks_stopped", Map.of("cluster", TASK_POOL, "tasks", List.of(taskArn)));
    // Kept as ECS keeps a stopped task (here 20 s, an hour by default), then gone, as in ECS.
    var runs = client.resources(ContainerTask.class).inNamespace(namespace.name());
    awaitTrue(
        () -> runs.list().getItems().isEmpty(),
        90,
        () -> "runs kept: " + runs.list().getItems().size());
    assertThat(
            call(
                    key,
                    "ecs",
                    "describe_tasks",
                    Map.of("cluster", TASK_POOL, "tasks", List.of(taskArn)))
                .at("/response/failures/0/reason")
                .asText())
        .isEqualTo("MISSING");

    Map<String, Object> big = new LinkedHashMap<>(definition);
    big.put("family", "big");
    big.put("cpu", "16384");
    big.put("memory", "32768");
    call(key, "ecs", "register_task_definition", big);
    JsonNode refused =
        call(
            key,
            "ecs",
            "run_task",
            Map.of(
                "cluster",
                TASK_POOL,
                "taskDefinition",
                "big",
                "count",
                2,
                "launchType",
                "FARGATE"));
    assertThat(refused.at("/response/tasks").size()).isZero();
    assertThat(refused.at("/response/failures/0/reason").asText()).isEqualTo("RESOURCE:CPU");
    assertThat(refused.at("/response/failures/0/detail").asText()).contains(TASK_POOL);
  }

  /**
   * ImportKeyPair makes a KeyPair that kubectl sees, with the fingerprint its status shows;
   * DescribeKeyPairs and DeleteKeyPair read and end it; a second import of the name is EC2's
   * duplicate.
   */
  @Test
  void keyPairsAreKeyPairs(KubernetesClient client, TestNamespace namespace) throws Exception {
    Key key = deployerKey(client, namespace);
    Map<String, Object> material =
        Map.of("KeyName", "laptop", "PublicKeyMaterial", Fixtures.PUBLIC_KEY);

    JsonNode imported = call(key, "ec2", "import_key_pair", material);

    String id = imported.at("/response/KeyPairId").asText();
    assertThat(id).matches("key-[0-9a-f]{17}");
    var stored =
        client
            .resources(KeyPair.class)
            .inNamespace(namespace.name())
            .withName("laptop")
            .waitUntilCondition(
                k -> k.getStatus() != null && k.getStatus().fingerprint() != null,
                30,
                TimeUnit.SECONDS);
    assertThat(imported.at("/response/KeyFingerprint").asText())
        .isEqualTo(stored.getStatus().fingerprint());
    assertThat(call(key, "ec2", "import_key_pair", material).at("/error/Code").asText())
        .isEqualTo("InvalidKeyPair.Duplicate");
    JsonNode described = call(key, "ec2", "describe_key_pairs", Map.of("KeyPairIds", List.of(id)));
    assertThat(described.at("/response/KeyPairs/0/KeyName").asText()).isEqualTo("laptop");
    assertThat(described.at("/response/KeyPairs/0/KeyType").asText()).isEqualTo("ed25519");
    call(key, "ec2", "delete_key_pair", Map.of("KeyName", "laptop"));
    assertThat(
            call(key, "ec2", "describe_key_pairs", Map.of("KeyNames", List.of("laptop")))
                .at("/error/Code")
                .asText())
        .isEqualTo("InvalidKeyPair.NotFound");
  }

  /**
   * CreateSecurityGroup makes a SecurityGroup; AuthorizeSecurityGroupIngress and
   * RevokeSecurityGroupIngress change its rules, and the NetworkPolicy of a server in the group
   * follows the revoke; a group a server names cannot be deleted, and can once the server is gone.
   */
  @Test
  void securityGroupsAreSecurityGroupsAndRevokesReachRunningServers(
      KubernetesClient client, TestNamespace namespace) throws Exception {
    Key key = deployerKey(client, namespace);
    Map<String, Object> create = Map.of("GroupName", "ssh", "Description", "SSH from the office");

    JsonNode created = call(key, "ec2", "create_security_group", create);

    String id = created.at("/response/GroupId").asText();
    assertThat(id).matches("sg-[0-9a-f]{17}");
    assertThat(call(key, "ec2", "create_security_group", create).at("/error/Code").asText())
        .isEqualTo("InvalidGroup.Duplicate");
    Map<String, Object> ssh =
        Map.of(
            "GroupId",
            id,
            "IpPermissions",
            List.of(
                Map.of(
                    "IpProtocol",
                    "tcp",
                    "FromPort",
                    22,
                    "ToPort",
                    22,
                    "IpRanges",
                    List.of(Map.of("CidrIp", "10.0.0.0/8")))));
    assertThat(call(key, "ec2", "authorize_security_group_ingress", ssh).at("/response/Return"))
        .hasToString("true");
    assertThat(call(key, "ec2", "authorize_security_group_ingress", ssh).at("/error/Code").asText())
        .isEqualTo("InvalidPermission.Duplicate");
    JsonNode described =
        call(key, "ec2", "describe_security_groups", Map.of("GroupIds", List.of(id)));
    JsonNode permission = described.at("/response/SecurityGroups/0/IpPermissions/0");
    assertThat(permission.at("/IpProtocol").asText()).isEqualTo("tcp");
    assertThat(permission.at("/FromPort").asInt()).isEqualTo(22);
    assertThat(permission.at("/IpRanges/0/CidrIp").asText()).isEqualTo("10.0.0.0/8");
    assertThat(described.at("/response/SecurityGroups/0/IpPermissionsEgress/0/IpProtocol").asText())
        .isEqualTo("-1");

    JsonNode run =
        call(
            key,
            "ec2",
            "run_instances",
            Map.of(
                "ImageId",
                IMAGE,
                "MinCount",
                1,
                "MaxCount",
                1,
                "InstanceType",
                TYPE,
                "SecurityGroupIds",
                List.of(id),
                "Placement",
                Map.of("GroupName", POOL)));
    assertThat(run.at("/error").isMissingNode()).as("%s", run).isTrue();
    String server =
        client
            .resources(VirtualServer.class)
            .inNamespace(namespace.name())
            .list()
            .getItems()
            .get(0)
            .getMetadata()
            .getName();
    var policy =
        client
            .network()
            .networkPolicies()
            .inNamespace(namespace.name())
            .withName(server + "-vsrv-secgroups");
    awaitTrue(
        () ->
            Optional.ofNullable(policy.get())
                .map(p -> p.getSpec().getIngress().size() == 1)
                .orElse(false),
        60,
        () -> "the server's NetworkPolicy: " + policy.get());
    assertThat(
            call(key, "ec2", "delete_security_group", Map.of("GroupId", id))
                .at("/error/Code")
                .asText())
        .isEqualTo("DependencyViolation");

    call(key, "ec2", "revoke_security_group_ingress", ssh);

    awaitTrue(
        () ->
            Optional.ofNullable(policy.get())
                .map(p -> p.getSpec().getIngress().isEmpty())
                .orElse(true),
        30,
        () -> "the revoked rule still admits traffic: " + policy.get());
    call(
        key,
        "ec2",
        "terminate_instances",
        Map.of("InstanceIds", run.at("/response/Instances").findValuesAsText("InstanceId")));
    awaitTrue(
        () ->
            client
                .resources(VirtualServer.class)
                .inNamespace(namespace.name())
                .list()
                .getItems()
                .isEmpty(),
        60);
    assertThat(
            call(key, "ec2", "delete_security_group", Map.of("GroupName", "ssh"))
                .at("/response/Return"))
        .hasToString("true");
    assertThat(
            client
                .resources(SecurityGroup.class)
                .inNamespace(namespace.name())
                .withName("ssh")
                .get())
        .isNull();
  }

  /** The state names of {@code ids}, in order. */
  private static List<String> stateNames(Key key, List<String> ids) {
    JsonNode reservations = describe(key, Map.of("InstanceIds", ids)).at("/response/Reservations");
    List<String> names = new ArrayList<>();
    for (String id : ids) {
      for (JsonNode instance : reservations.findValues("Instances")) {
        for (JsonNode each : instance) {
          if (each.at("/InstanceId").asText().equals(id)) {
            names.add(each.at("/State/Name").asText());
          }
        }
      }
    }
    return names;
  }

  /** The running instances tagged Name={@code name}. */
  private static List<String> running(Key key, String name) {
    return describe(
            key,
            Map.of(
                "Filters",
                List.of(
                    Map.of("Name", "tag:Name", "Values", List.of(name)),
                    Map.of("Name", "instance-state-name", "Values", List.of("running")))))
        .at("/response/Reservations")
        .findValuesAsText("InstanceId");
  }

  private static JsonNode describe(Key key, Map<String, ?> arguments) {
    return quietly(key, "ec2", "describe_instances", arguments);
  }

  /** {@link #call}, for a condition to wait on. */
  private static JsonNode quietly(
      Key key, String service, String operation, Map<String, ?> arguments) {
    try {
      return call(key, service, operation, arguments);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A known key of the namespace's ServiceAccount deployer, which may read the catalogues and write
   * the namespace's servers, key pairs, groups and tasks.
   */
  private static Key deployerKey(KubernetesClient client, TestNamespace namespace)
      throws InterruptedException {
    String user = serviceAccount(client, namespace, "deployer", true);
    writesServers(client, namespace, "deployer");
    Key key = issueKey(client, namespace, user);
    awaitKnown(key);
    return key;
  }

  /** A RoleBinding that lets the ServiceAccount {@code name} create and end VirtualServers. */
  private static void writesServers(KubernetesClient client, TestNamespace namespace, String name) {
    client
        .resource(
            new RoleBindingBuilder()
                .withNewMetadata()
                .withName(name + "-writes-servers")
                .withNamespace(namespace.name())
                .endMetadata()
                .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", SERVER_WRITER)
                .addNewSubject()
                .withKind("ServiceAccount")
                .withName(name)
                .withNamespace(namespace.name())
                .endSubject()
                .build())
        .create();
  }

  /** An access key as the tests issue it. */
  record Key(String id, String secret) {}

  /** A ServiceAccount of the namespace, allowed to read InstanceTypes or not; its user name. */
  private static String serviceAccount(
      KubernetesClient client, TestNamespace namespace, String name, boolean reader) {
    client
        .resource(
            new ServiceAccountBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(namespace.name())
                .endMetadata()
                .build())
        .create();
    String user = "system:serviceaccount:" + namespace.name() + ":" + name;
    if (reader) {
      client
          .resource(
              new ClusterRoleBindingBuilder()
                  .withNewMetadata()
                  .withName(namespace.name() + "-" + name)
                  .endMetadata()
                  .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", READER)
                  .addNewSubject()
                  .withKind("ServiceAccount")
                  .withName(name)
                  .withNamespace(namespace.name())
                  .endSubject()
                  .build())
          .create();
      // The binding goes with the test namespace's ServiceAccount only by name: delete it after.
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () ->
                      client
                          .rbac()
                          .clusterRoleBindings()
                          .withName(namespace.name() + "-" + name)
                          .delete()));
    }
    return user;
  }

  /**
   * A key of its own id in the operator's namespace, bound to {@code user} in the test's namespace.
   */
  private static Key issueKey(KubernetesClient client, TestNamespace namespace, String user) {
    String id =
        "AKIANIMBUS"
            + java.util
                .UUID
                .randomUUID()
                .toString()
                .replace("-", "")
                .substring(0, 10)
                .toUpperCase();
    Key key = new Key(id, "s3cr3t-" + UUID.randomUUID());
    client
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(secretName(key))
                .withNamespace(OPERATOR_NAMESPACE)
                .addToLabels(Names.ACCESS_KEY_LABEL, "true")
                .addToAnnotations(Names.ACCESS_KEY_NAMESPACE_ANNOTATION, namespace.name())
                .addToAnnotations(Names.ACCESS_KEY_USER_ANNOTATION, user)
                .endMetadata()
                .withType(Names.ACCESS_KEY_SECRET_TYPE)
                .addToStringData("accessKeyId", key.id())
                .addToStringData("secretAccessKey", key.secret())
                .build())
        .create();
    return key;
  }

  private static String secretName(Key key) {
    return "aws-key-" + key.id().toLowerCase(Locale.ROOT);
  }

  /** Waits until the operator has seen the key's Secret (its watch), as a client would retry. */
  private static void awaitKnown(Key key) throws InterruptedException {
    awaitTrue(() -> !"AuthFailure".equals(codeOf(key)), 30, () -> "key " + key.id() + " unknown");
  }

  private static String codeOf(Key key) {
    try {
      return call(key, "ec2", "describe_instance_types", Map.of()).at("/error/Code").asText();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** One AWS CLI command against the endpoint with {@code key}; its standard output. */
  private static String aws(Key key, String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add("aws");
    command.addAll(List.of(args));
    command.addAll(
        List.of(
            "--endpoint-url",
            "https://127.0.0.1:" + AWS_PORT,
            "--ca-bundle",
            caFile.toString(),
            "--region",
            "us-east-1"));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("AWS_ACCESS_KEY_ID", key.id());
    builder.environment().put("AWS_SECRET_ACCESS_KEY", key.secret());
    builder.environment().put("AWS_CONFIG_FILE", "/dev/null");
    builder.environment().put("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor()).as("aws %s: %s", String.join(" ", args), output).isZero();
    return output;
  }

  /** One boto3 call; its printed JSON. */
  private static JsonNode call(Key key, String service, String operation, Map<String, ?> arguments)
      throws Exception {
    return call(key, service, operation, arguments, "");
  }

  /**
   * One boto3 call in {@code mode} (see aws_call.py: unsigned, expired, unvalidated); its printed
   * JSON.
   */
  private static JsonNode call(
      Key key, String service, String operation, Map<String, ?> arguments, String mode)
      throws Exception {
    List<String> command = new ArrayList<>();
    command.add("python3");
    command.add(LocalCluster.projectDir().resolve("src/test/python/aws_call.py").toString());
    command.add("https://127.0.0.1:" + AWS_PORT);
    command.add(caFile.toString());
    command.add(key.id());
    command.add(key.secret());
    command.add(service);
    command.add(operation);
    command.add(JSON.writeValueAsString(arguments));
    command.add(mode);
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor()).as("boto3 %s: %s", operation, output).isZero();
    String last = output.strip().lines().reduce((a, b) -> b).orElse("");
    return JSON.readTree(last);
  }
}
