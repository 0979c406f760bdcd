package dev.nimbus.aws;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.api.v1alpha1.ContainerDefinition;
import dev.nimbus.api.v1alpha1.TaskDefinition;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevisionSpec;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * ECS task definitions as TaskDefinitionRevisions of the key's namespace: RegisterTaskDefinition
 * adds the next revision of a family, DescribeTaskDefinition and ListTaskDefinitions read them, and
 * RunTask resolves {@code family[:revision]} (or an ARN) to the one it copies.
 */
final class EcsTaskDefinitions {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** How often a registration is tried again when another took its revision meanwhile. */
  private static final int REVISION_ATTEMPTS = 5;

  private EcsTaskDefinitions() {}

  static ObjectNode register(KubernetesClient caller, AccessKey key, JsonNode request) {
    String family = request.path("family").asText("");
    if (family.isEmpty()) {
      throw new EcsException(400, "ClientException", "family is required");
    }
    JsonNode compatibilities = request.path("requiresCompatibilities");
    if (compatibilities.isArray()
        && !compatibilities.isEmpty()
        && !compatibilities.toString().contains("\"FARGATE\"")) {
      throw EcsException.client(
          "Nimbus runs tasks as FARGATE only; requiresCompatibilities must include it");
    }
    TaskDefinition definition =
        new TaskDefinition(
            family,
            number(request, "cpu"),
            number(request, "memory"),
            containers(request.path("containerDefinitions")));
    var revisions = caller.resources(TaskDefinitionRevision.class).inNamespace(key.namespace());
    for (int attempt = 1; ; attempt++) {
      int next =
          revisionsOf(caller, key, family).stream()
                  .mapToInt(r -> r.getSpec().revision())
                  .max()
                  .orElse(0)
              + 1;
      TaskDefinitionRevision revision = new TaskDefinitionRevision();
      revision.setMetadata(
          new ObjectMetaBuilder()
              .withName(Names.taskDefinitionRevision(family, next))
              .withNamespace(key.namespace())
              .withLabels(Map.of(Names.CREATED_BY_LABEL, Names.CREATED_BY_AWS_API))
              .build());
      revision.setSpec(new TaskDefinitionRevisionSpec(next, definition));
      try {
        TaskDefinitionRevision created = revisions.resource(revision).create();
        ObjectNode response = JSON.createObjectNode();
        describe(response.putObject("taskDefinition"), key, created);
        return response;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 || attempt >= REVISION_ATTEMPTS) {
          throw EcsActions.of(e);
        }
      }
    }
  }

  static ObjectNode describe(KubernetesClient caller, AccessKey key, JsonNode request) {
    ObjectNode response = JSON.createObjectNode();
    describe(
        response.putObject("taskDefinition"),
        key,
        resolve(caller, key, request.path("taskDefinition").asText("")));
    return response;
  }

  static ObjectNode list(KubernetesClient caller, AccessKey key, JsonNode request) {
    String prefix = request.path("familyPrefix").asText("");
    boolean descending = "DESC".equals(request.path("sort").asText("ASC"));
    Comparator<TaskDefinitionRevision> order =
        Comparator.comparing((TaskDefinitionRevision r) -> r.getSpec().taskDefinition().family())
            .thenComparing(r -> r.getSpec().revision());
    ObjectNode response = JSON.createObjectNode();
    ArrayNode arns = response.putArray("taskDefinitionArns");
    caller
        .resources(TaskDefinitionRevision.class)
        .inNamespace(key.namespace())
        .list()
        .getItems()
        .stream()
        .filter(r -> r.getSpec().taskDefinition().family().startsWith(prefix))
        .sorted(descending ? order.reversed() : order)
        .forEach(r -> arns.add(arn(key, r)));
    return response;
  }

  /**
   * The revision {@code name} names: {@code family:revision}, {@code family} (its latest), or
   * either as an ARN.
   */
  static TaskDefinitionRevision resolve(KubernetesClient caller, AccessKey key, String name) {
    String reference =
        name.contains(":task-definition/")
            ? name.substring(name.indexOf(":task-definition/") + ":task-definition/".length())
            : name;
    if (reference.isEmpty()) {
      throw EcsException.client("taskDefinition is required");
    }
    int colon = reference.lastIndexOf(':');
    String family = colon < 0 ? reference : reference.substring(0, colon);
    Integer revision = null;
    if (colon >= 0) {
      try {
        revision = Integer.valueOf(reference.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw EcsException.client("The revision of " + name + " is not a number");
      }
    }
    Integer wanted = revision;
    return revisionsOf(caller, key, family).stream()
        .filter(r -> wanted == null || r.getSpec().revision().equals(wanted))
        .max(Comparator.comparing(r -> r.getSpec().revision()))
        .orElseThrow(() -> EcsException.client("Unable to describe task definition " + name + "."));
  }

  static String arn(AccessKey key, TaskDefinitionRevision revision) {
    return "arn:nimbus:ecs:"
        + key.namespace()
        + ":task-definition/"
        + revision.getSpec().taskDefinition().family()
        + ":"
        + revision.getSpec().revision();
  }

  private static List<TaskDefinitionRevision> revisionsOf(
      KubernetesClient caller, AccessKey key, String family) {
    return caller
        .resources(TaskDefinitionRevision.class)
        .inNamespace(key.namespace())
        .list()
        .getItems()
        .stream()
        .filter(r -> family.equals(r.getSpec().taskDefinition().family()))
        .toList();
  }

  private static void describe(ObjectNode json, AccessKey key, TaskDefinitionRevision revision) {
    TaskDefinition definition = revision.getSpec().taskDefinition();
    json.put("taskDefinitionArn", arn(key, revision))
        .put("family", definition.family())
        .put("revision", revision.getSpec().revision())
        .put("status", "ACTIVE")
        .put("networkMode", "awsvpc")
        .put("cpu", String.valueOf(definition.cpu()))
        .put("memory", String.valueOf(definition.memory()));
    json.putArray("requiresCompatibilities").add("FARGATE");
    json.putArray("compatibilities").add("FARGATE");
    if (revision.getMetadata().getCreationTimestamp() != null) {
      json.put(
          "registeredAt",
          Instant.parse(revision.getMetadata().getCreationTimestamp()).getEpochSecond());
    }
    ArrayNode containers = json.putArray("containerDefinitions");
    for (ContainerDefinition container : definition.containers()) {
      ObjectNode c =
          containers
              .addObject()
              .put("name", container.name())
              .put("image", container.image())
              .put("essential", container.essential() == null || container.essential());
      if (container.command() != null) {
        container.command().forEach(c.putArray("entryPoint")::add);
      }
      if (container.args() != null) {
        container.args().forEach(c.putArray("command")::add);
      }
      if (container.env() != null) {
        ArrayNode env = c.putArray("environment");
        container.env().forEach(e -> env.addObject().put("name", e.name()).put("value", e.value()));
      }
      if (container.ports() != null) {
        ArrayNode ports = c.putArray("portMappings");
        container
            .ports()
            .forEach(
                p ->
                    ports
                        .addObject()
                        .put("containerPort", p.containerPort())
                        .put("protocol", p.protocol() == null ? "tcp" : p.protocol().name()));
      }
    }
  }

  /** ECS's containerDefinitions as Nimbus containers: entryPoint is the command, command args. */
  private static List<ContainerDefinition> containers(JsonNode definitions) {
    if (!definitions.isArray() || definitions.isEmpty()) {
      throw EcsException.client("containerDefinitions must hold at least one container");
    }
    List<ContainerDefinition> containers = new ArrayList<>();
    for (JsonNode c : definitions) {
      List<ContainerDefinition.EnvVar> env = new ArrayList<>();
      c.path("environment")
          .forEach(
              e ->
                  env.add(
                      new ContainerDefinition.EnvVar(
                          e.path("name").asText(), e.path("value").asText())));
      List<ContainerDefinition.PortMapping> ports = new ArrayList<>();
      for (JsonNode p : c.path("portMappings")) {
        ports.add(
            new ContainerDefinition.PortMapping(
                p.path("containerPort").asInt(),
                "udp".equals(p.path("protocol").asText())
                    ? ContainerDefinition.Protocol.udp
                    : ContainerDefinition.Protocol.tcp));
      }
      containers.add(
          new ContainerDefinition(
              c.path("name").asText(null),
              c.path("image").asText(null),
              strings(c.path("entryPoint")),
              strings(c.path("command")),
              env.isEmpty() ? null : env,
              c.has("essential") ? c.get("essential").asBoolean() : null,
              ports.isEmpty() ? null : ports));
    }
    return containers;
  }

  private static List<String> strings(JsonNode array) {
    if (!array.isArray()) {
      return null;
    }
    List<String> values = new ArrayList<>();
    array.forEach(v -> values.add(v.asText()));
    return values;
  }

  /** cpu and memory, which ECS sends as strings ("256"). */
  private static Integer number(JsonNode request, String name) {
    String value = request.path(name).asText("");
    if (value.isEmpty()) {
      throw EcsException.client(
          "Fargate requires task definition-level " + name + " (" + name + " is required)");
    }
    try {
      return Integer.valueOf(value.trim());
    } catch (NumberFormatException e) {
      throw EcsException.client(
          name
              + " must be a number of "
              + (name.equals("cpu") ? "CPU units" : "MiB")
              + ", was "
              + value);
    }
  }
}
