package dev.nimbus.aws;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskSpec;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.api.v1alpha1.NetworkConfiguration;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The ECS actions Nimbus answers (JSON 1.1 protocol), on ContainerTasks and the CapacityPools that
 * serve them: an ECS cluster is a pool, a task is one task of a ContainerTask, with the ARN its
 * status shows. Reads and writes go through the caller's client in the key's namespace.
 */
final class EcsActions {
  static final String TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113.";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The actions {@link #answer} serves: the values the metrics' action label may take. */
  static final Set<String> ACTIONS =
      Set.of(
          "ListClusters",
          "DescribeClusters",
          "ListTasks",
          "DescribeTasks",
          "StopTask",
          "RunTask",
          "RegisterTaskDefinition",
          "DescribeTaskDefinition",
          "ListTaskDefinitions");

  private EcsActions() {}

  /** One task of a ContainerTask, with the ContainerTask it belongs to. */
  private record Found(ContainerTask run, ContainerTaskStatus.Task task) {}

  static String answer(KubernetesClient caller, AccessKey key, String target, String body) {
    if (!target.startsWith(TARGET_PREFIX)) {
      throw new EcsException(400, "UnknownOperationException", "Unknown target " + target);
    }
    JsonNode request;
    try {
      request = body.isBlank() ? JSON.createObjectNode() : JSON.readTree(body);
    } catch (IOException e) {
      throw new EcsException(400, "SerializationException", "The body is not JSON");
    }
    if (!request.isObject()) {
      throw new EcsException(400, "SerializationException", "The body is not a JSON object");
    }
    String action = target.substring(TARGET_PREFIX.length());
    try {
      ObjectNode response =
          switch (action) {
            case "ListClusters" -> listClusters(caller, key);
            case "DescribeClusters" -> describeClusters(caller, key, request);
            case "ListTasks" -> listTasks(caller, key, request);
            case "DescribeTasks" -> describeTasks(caller, key, request);
            case "StopTask" -> stopTask(caller, key, request);
            case "RunTask" -> runTask(caller, key, request);
            case "RegisterTaskDefinition" -> EcsTaskDefinitions.register(caller, key, request);
            case "DescribeTaskDefinition" -> EcsTaskDefinitions.describe(caller, key, request);
            case "ListTaskDefinitions" -> EcsTaskDefinitions.list(caller, key, request);
            default ->
                throw new EcsException(
                    400,
                    "UnknownOperationException",
                    "The action "
                        + action
                        + " is not served by Nimbus yet (see docs/aws-api.md for what is)");
          };
      return JSON.writeValueAsString(response);
    } catch (KubernetesClientException e) {
      throw of(e);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static ObjectNode listClusters(KubernetesClient caller, AccessKey key) {
    ObjectNode response = JSON.createObjectNode();
    ArrayNode arns = response.putArray("clusterArns");
    taskPools(caller).forEach(p -> arns.add(Names.clusterArn(key.namespace(), name(p))));
    return response;
  }

  /**
   * The pools asked for, with the key's namespace's tasks counted: ECS counts a cluster's tasks,
   * and what the key sees of a pool is its own namespace.
   */
  private static ObjectNode describeClusters(
      KubernetesClient caller, AccessKey key, JsonNode request) {
    List<CapacityPool> pools = taskPools(caller);
    List<String> asked = strings(request.path("clusters"));
    if (asked.isEmpty()) {
      asked = pools.stream().map(EcsActions::name).toList();
    }
    List<ContainerTask> runs = runs(caller, key);
    ObjectNode response = JSON.createObjectNode();
    ArrayNode clusters = response.putArray("clusters");
    ArrayNode failures = response.putArray("failures");
    for (String cluster : asked) {
      String name = clusterName(cluster);
      Optional<CapacityPool> pool = pools.stream().filter(p -> name(p).equals(name)).findFirst();
      if (pool.isEmpty()) {
        failures.addObject().put("arn", cluster).put("reason", "MISSING");
        continue;
      }
      List<ContainerTaskStatus.Task> tasks =
          runs.stream()
              .filter(r -> r.getStatus() != null && name.equals(r.getStatus().cluster()))
              .flatMap(r -> tasks(r).stream())
              .toList();
      clusters
          .addObject()
          .put("clusterArn", Names.clusterArn(key.namespace(), name))
          .put("clusterName", name)
          .put("status", "ACTIVE")
          .put("runningTasksCount", count(tasks, "RUNNING"))
          .put("pendingTasksCount", count(tasks, "PROVISIONING") + count(tasks, "PENDING"))
          .put("registeredContainerInstancesCount", 0)
          .put("activeServicesCount", 0);
    }
    return response;
  }

  private static ObjectNode listTasks(KubernetesClient caller, AccessKey key, JsonNode request) {
    String cluster =
        request.hasNonNull("cluster") ? clusterName(request.get("cluster").asText()) : null;
    String family = request.hasNonNull("family") ? request.get("family").asText() : null;
    String desired = request.path("desiredStatus").asText("RUNNING");
    ObjectNode response = JSON.createObjectNode();
    ArrayNode arns = response.putArray("taskArns");
    for (Found found : all(caller, key)) {
      if ((cluster == null || cluster.equals(found.run().getStatus().cluster()))
          && (family == null || family.equals(definitionOf(found.run()).family()))
          && desired.equals(found.task().desiredStatus())) {
        arns.add(found.task().taskArn());
      }
    }
    return response;
  }

  private static ObjectNode describeTasks(
      KubernetesClient caller, AccessKey key, JsonNode request) {
    List<String> asked = strings(request.path("tasks"));
    if (asked.isEmpty()) {
      throw new EcsException(400, "InvalidParameterException", "tasks cannot be empty.");
    }
    List<Found> all = all(caller, key);
    ObjectNode response = JSON.createObjectNode();
    ArrayNode tasks = response.putArray("tasks");
    ArrayNode failures = response.putArray("failures");
    for (String arn : asked) {
      Optional<Found> found = find(all, arn);
      if (found.isPresent()) {
        task(tasks.addObject(), key, found.get());
      } else {
        failures.addObject().put("arn", arn).put("reason", "MISSING");
      }
    }
    return response;
  }

  /**
   * Stops a task by deleting its pod, as {@code kubectl delete pod} would: the ContainerTask
   * records it STOPPED with ECS's UserInitiated stop code, and never starts it again.
   */
  private static ObjectNode stopTask(KubernetesClient caller, AccessKey key, JsonNode request) {
    String arn = request.path("task").asText("");
    Found found =
        find(all(caller, key), arn)
            .orElseThrow(
                () ->
                    new EcsException(
                        400, "InvalidParameterException", "The referenced task was not found."));
    if (found.task().podName() != null) {
      caller.pods().inNamespace(key.namespace()).withName(found.task().podName()).delete();
    }
    ObjectNode response = JSON.createObjectNode();
    task(response.putObject("task"), key, found).put("desiredStatus", "STOPPED");
    return response;
  }

  /**
   * One RunTask call is one ContainerTask in the key's namespace, named after the call's
   * clientToken so that a retry finds it, with the registered task definition copied in. The
   * webhook's refusal for want of room is ECS's failure RESOURCE:CPU or RESOURCE:MEMORY, answered
   * with no task, as ECS answers it.
   */
  private static ObjectNode runTask(KubernetesClient caller, AccessKey key, JsonNode request) {
    var revision =
        EcsTaskDefinitions.resolve(caller, key, request.path("taskDefinition").asText(""));
    String launchType = request.path("launchType").asText("FARGATE");
    if (!launchType.equals("FARGATE")) {
      throw new EcsException(
          400, "InvalidParameterException", "Nimbus runs tasks as FARGATE only, not " + launchType);
    }
    int count = request.path("count").asInt(1);
    if (count < 1 || count > 10) {
      throw new EcsException(
          400, "InvalidParameterException", "count must be between 1 and 10, was " + count);
    }
    String cluster =
        request.hasNonNull("cluster") ? clusterName(request.get("cluster").asText()) : null;
    JsonNode vpc = request.path("networkConfiguration").path("awsvpcConfiguration");
    NetworkConfiguration network =
        vpc.isMissingNode()
            ? null
            : new NetworkConfiguration(
                new NetworkConfiguration.AwsVpcConfiguration(
                    nullIfEmpty(strings(vpc.path("subnets"))),
                    nullIfEmpty(strings(vpc.path("securityGroups"))),
                    vpc.hasNonNull("assignPublicIp")
                        ? NetworkConfiguration.AssignPublicIp.valueOf(
                            vpc.get("assignPublicIp").asText())
                        : null));
    String token =
        request.hasNonNull("clientToken")
            ? request.get("clientToken").asText()
            : UUID.randomUUID().toString();
    ContainerTask run = new ContainerTask();
    run.setMetadata(
        new ObjectMetaBuilder()
            .withName(Names.runTaskRun(key.namespace(), token))
            .withNamespace(key.namespace())
            .withLabels(Map.of(Names.CREATED_BY_LABEL, Names.CREATED_BY_AWS_API))
            .withAnnotations(
                Map.of(
                    Names.CLIENT_TOKEN_ANNOTATION,
                    token,
                    Names.TASK_DEFINITION_ARN_ANNOTATION,
                    EcsTaskDefinitions.arn(key, revision)))
            .build());
    run.setSpec(
        new ContainerTaskSpec(
            cluster,
            ContainerTaskSpec.LaunchType.FARGATE,
            revision.getSpec().taskDefinition(),
            count,
            request.path("platformVersion").asText("LATEST"),
            network));
    var runs = caller.resources(ContainerTask.class).inNamespace(key.namespace());
    ObjectNode response = JSON.createObjectNode();
    ArrayNode tasks = response.putArray("tasks");
    ArrayNode failures = response.putArray("failures");
    ContainerTask created;
    try {
      created = runs.resource(run).create();
    } catch (KubernetesClientException e) {
      String reason = resourceShort(e);
      if (reason == null) {
        if (e.getCode() == 409) {
          created = runs.withName(run.getMetadata().getName()).get();
          if (created == null) {
            throw of(e);
          }
        } else {
          throw of(e);
        }
      } else {
        failures
            .addObject()
            .put("arn", Names.clusterArn(key.namespace(), cluster == null ? "default" : cluster))
            .put("reason", reason)
            .put("detail", e.getStatus().getMessage());
        return response;
      }
    }
    ContainerTask started = awaitTasks(caller, created);
    for (ContainerTaskStatus.Task task : tasks(started)) {
      task(tasks.addObject(), key, new Found(started, task));
    }
    return response;
  }

  /**
   * ECS's reason for a refusal for want of room, from the webhook's denial ("pool "p": cpu asked 1,
   * free 0 of ..."); null for any other refusal.
   */
  private static String resourceShort(KubernetesClientException e) {
    String reason = e.getStatus() == null ? null : e.getStatus().getReason();
    String message = e.getStatus() == null ? "" : String.valueOf(e.getStatus().getMessage());
    if (!"InsufficientCapacity".equals(reason) && !"NoNodeFits".equals(reason)) {
      return null;
    }
    return message.contains(": memory asked") ? "RESOURCE:MEMORY" : "RESOURCE:CPU";
  }

  /** The run once its status lists every task, or as it is after ten seconds. */
  private static ContainerTask awaitTasks(KubernetesClient caller, ContainerTask created) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    ContainerTask latest = created;
    while (System.nanoTime() < deadline && tasks(latest).size() < latest.getSpec().count()) {
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      ContainerTask read = caller.resource(created).get();
      latest = read == null ? latest : read;
    }
    return latest;
  }

  private static String annotation(ContainerTask run, String name) {
    var annotations = run.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(name);
  }

  private static List<String> nullIfEmpty(List<String> values) {
    return values.isEmpty() ? null : values;
  }

  /**
   * What a run runs: its own task definition, or the revision it names as its status recorded it (a
   * run is listed once its status tells its tasks).
   */
  private static TaskDefinition definitionOf(ContainerTask run) {
    return run.getSpec().taskDefinition() != null
        ? run.getSpec().taskDefinition()
        : run.getStatus().taskDefinition();
  }

  private static ObjectNode task(ObjectNode json, AccessKey key, Found found) {
    ContainerTask run = found.run();
    ContainerTaskStatus.Task task = found.task();
    var definition = definitionOf(run);
    String named =
        run.getSpec().taskDefinitionRef() == null
            // Written out in the ContainerTask: never registered, so it has no revision.
            ? definition.family()
            : run.getSpec().taskDefinitionRef();
    json.put("taskArn", task.taskArn())
        .put(
            "clusterArn",
            Names.clusterArn(
                key.namespace(),
                run.getStatus() == null ? run.getSpec().cluster() : run.getStatus().cluster()))
        .put(
            "taskDefinitionArn",
            Objects.requireNonNullElse(
                annotation(run, Names.TASK_DEFINITION_ARN_ANNOTATION),
                "arn:nimbus:ecs:" + key.namespace() + ":task-definition/" + named))
        .put("lastStatus", task.lastStatus())
        .put("desiredStatus", task.desiredStatus())
        .put("launchType", "FARGATE")
        .put("cpu", String.valueOf(definition.cpu()))
        .put("memory", String.valueOf(definition.memory()))
        .put("group", "family:" + definition.family())
        .put("platformVersion", run.getSpec().platformVersion());
    putIfPresent(json, "availabilityZone", task.availabilityZone());
    putIfPresent(json, "stopCode", task.stopCode());
    putIfPresent(json, "stoppedReason", task.stoppedReason());
    putTime(json, "createdAt", task.createdAt());
    putTime(json, "startedAt", task.startedAt());
    putTime(json, "stoppedAt", task.stoppedAt());
    ArrayNode containers = json.putArray("containers");
    for (ContainerTaskStatus.Container container :
        task.containers() == null ? List.<ContainerTaskStatus.Container>of() : task.containers()) {
      ObjectNode c =
          containers
              .addObject()
              .put("taskArn", task.taskArn())
              .put("name", container.name())
              .put("lastStatus", container.lastStatus());
      if (container.exitCode() != null) {
        c.put("exitCode", container.exitCode());
      }
      putIfPresent(c, "reason", container.reason());
    }
    return json;
  }

  private static List<Found> all(KubernetesClient caller, AccessKey key) {
    List<Found> all = new ArrayList<>();
    for (ContainerTask run : runs(caller, key)) {
      tasks(run).forEach(t -> all.add(new Found(run, t)));
    }
    return all;
  }

  /** The task of {@code arn}, given as its ARN or as the task id that ends it, as ECS takes. */
  private static Optional<Found> find(List<Found> all, String arn) {
    return all.stream()
        .filter(
            f ->
                f.task().taskArn() != null
                    && (f.task().taskArn().equals(arn) || f.task().taskArn().endsWith("/" + arn)))
        .findFirst();
  }

  private static List<ContainerTask> runs(KubernetesClient caller, AccessKey key) {
    return caller.resources(ContainerTask.class).inNamespace(key.namespace()).list().getItems();
  }

  private static List<ContainerTaskStatus.Task> tasks(ContainerTask run) {
    return run.getStatus() == null || run.getStatus().tasks() == null
        ? List.of()
        : run.getStatus().tasks();
  }

  private static List<CapacityPool> taskPools(KubernetesClient caller) {
    return caller.resources(CapacityPool.class).list().getItems().stream()
        .filter(
            p ->
                p.getSpec().serves() == null
                    || p.getSpec().serves().contains(WorkloadKind.ContainerTask))
        .toList();
  }

  private static String name(CapacityPool pool) {
    return pool.getMetadata().getName();
  }

  /** A cluster's name from its name or ARN. */
  private static String clusterName(String cluster) {
    int slash = cluster.lastIndexOf(":cluster/");
    return slash < 0 ? cluster : cluster.substring(slash + ":cluster/".length());
  }

  private static int count(List<ContainerTaskStatus.Task> tasks, String status) {
    return (int) tasks.stream().filter(t -> status.equals(t.lastStatus())).count();
  }

  private static List<String> strings(JsonNode array) {
    List<String> values = new ArrayList<>();
    if (array.isArray()) {
      array.forEach(v -> values.add(v.asText()));
    } else if (!array.isMissingNode() && !array.isNull()) {
      throw new EcsException(400, "SerializationException", "expected a list of strings");
    }
    return values;
  }

  private static void putIfPresent(ObjectNode json, String name, String value) {
    if (value != null) {
      json.put(name, value);
    }
  }

  /** RFC 3339 as the JSON protocol's timestamps: seconds since the epoch. */
  private static void putTime(ObjectNode json, String name, String rfc3339) {
    if (rfc3339 != null) {
      Instant instant = Instant.parse(rfc3339);
      json.put(name, instant.getEpochSecond() + instant.getNano() / 1e9);
    }
  }

  /** A refusal of the Kubernetes API in ECS's words. */
  static EcsException of(KubernetesClientException e) {
    String message = e.getStatus() == null ? e.getMessage() : e.getStatus().getMessage();
    return switch (e.getCode()) {
      case 403 -> new EcsException(400, "AccessDeniedException", message);
      case 400, 404, 409, 422 -> new EcsException(400, "InvalidParameterException", message);
      default ->
          new EcsException(500, "ServerException", "The Kubernetes API did not answer: " + message);
    };
  }
}
