package dev.nimbus.aws;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.CapacityPoolSpec.WorkloadKind;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.ContainerTaskStatus;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The ECS actions Nimbus answers (JSON 1.1 protocol), on ContainerTasks and the CapacityPools that
 * serve them: an ECS cluster is a pool, a task is one task of a ContainerTask, with the ARN its
 * status shows. Reads and writes go through the caller's client in the key's namespace.
 */
final class EcsActions {
  static final String TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113.";
  private static final ObjectMapper JSON = new ObjectMapper();

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
    } catch (java.io.IOException e) {
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
          && (family == null || family.equals(found.run().getSpec().taskDefinition().family()))
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

  private static ObjectNode task(ObjectNode json, AccessKey key, Found found) {
    ContainerTask run = found.run();
    ContainerTaskStatus.Task task = found.task();
    var definition = run.getSpec().taskDefinition();
    json.put("taskArn", task.taskArn())
        .put("clusterArn", Names.clusterArn(key.namespace(), run.getStatus().cluster()))
        .put(
            "taskDefinitionArn",
            "arn:nimbus:ecs:" + key.namespace() + ":task-definition/" + definition.family())
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
