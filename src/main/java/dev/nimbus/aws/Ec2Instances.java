package dev.nimbus.aws;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nimbus.api.v1alpha1.MachineImage;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.VirtualServer;
import dev.nimbus.api.v1alpha1.VirtualServerSpec;
import dev.nimbus.api.v1alpha1.VirtualServerStatus.InstanceStatus;
import dev.nimbus.naming.Names;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * EC2's instance actions on VirtualServers: one RunInstances call is one VirtualServer (its
 * reservation), an instance is one of its instances with the {@code i-} id it already has. Every
 * read and write goes through the caller's client in the key's namespace.
 */
final class Ec2Instances {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern IMAGE_ID = Pattern.compile("ami-([0-9a-f]{8}|[0-9a-f]{17})");

  /** How long RunInstances waits for the controller to report how many instances were admitted. */
  private static final Duration ADMITTED_WAIT = Duration.ofSeconds(10);

  private Ec2Instances() {}

  /** EC2's state codes, by the state names Nimbus reports. */
  private static final Map<String, Integer> STATE_CODES =
      Map.of(
          "pending", 0,
          "running", 16,
          "shutting-down", 32,
          "terminated", 48,
          "stopping", 64,
          "stopped", 80);

  static String runInstances(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    String imageId =
        request
            .string("ImageId")
            .orElseThrow(
                () ->
                    new Ec2Exception(400, "MissingParameter", "The request must contain ImageId"));
    if (!IMAGE_ID.matcher(imageId).matches()) {
      throw new Ec2Exception(
          400, "InvalidAMIID.Malformed", "Invalid id: \"" + imageId + "\" (expecting \"ami-...\")");
    }
    MachineImage image = caller.resources(MachineImage.class).withName(imageId).get();
    if (image == null) {
      throw new Ec2Exception(
          400, "InvalidAMIID.NotFound", "The image id '[" + imageId + "]' does not exist");
    }
    int minCount = count(request, "MinCount");
    int maxCount = count(request, "MaxCount");
    if (minCount > maxCount) {
      throw new Ec2Exception(
          400,
          "InvalidParameterValue",
          "MinCount (" + minCount + ") must not be greater than MaxCount (" + maxCount + ")");
    }
    String instanceType =
        request
            .string("InstanceType")
            .orElseThrow(
                () ->
                    new Ec2Exception(
                        400,
                        "MissingParameter",
                        "The request must contain InstanceType (Nimbus has no default type; see"
                            + " DescribeInstanceTypes)"));
    List<String> groups = new ArrayList<>(request.list("SecurityGroup"));
    groups.addAll(groupNames(caller, key, request.list("SecurityGroupId")));
    String token = request.string("ClientToken").orElse(UUID.randomUUID().toString());
    VirtualServer server = new VirtualServer();
    Map<String, String> annotations = new TreeMap<>();
    annotations.put(Names.IMAGE_ID_ANNOTATION, imageId);
    annotations.put(Names.CLIENT_TOKEN_ANNOTATION, token);
    String digest = request.digest(Set.of("ClientToken", "DryRun"));
    annotations.put(Names.REQUEST_DIGEST_ANNOTATION, digest);
    Map<String, String> tags = tags(request);
    if (!tags.isEmpty()) {
      try {
        annotations.put(Names.TAGS_ANNOTATION, JSON.writeValueAsString(tags));
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
    server.setMetadata(
        new ObjectMetaBuilder()
            .withName(Names.runInstancesServer(key.namespace(), token))
            .withNamespace(key.namespace())
            .withLabels(Map.of(Names.CREATED_BY_LABEL, Names.CREATED_BY_AWS_API))
            .withAnnotations(annotations)
            .build());
    server.setSpec(
        new VirtualServerSpec(
            image.getSpec().containerDisk(),
            instanceType,
            minCount,
            maxCount,
            request.string("KeyName").orElse(null),
            groups.isEmpty() ? null : groups,
            userData(request),
            // EC2's placement group is the nearest thing to a pool; none: the default pool.
            request.string("Placement.GroupName").orElse(null),
            true,
            request.string("DisableApiTermination").map(Boolean::parseBoolean).orElse(false)));
    var servers = caller.resources(VirtualServer.class).inNamespace(key.namespace());
    if (request.string("DryRun").map(Boolean::parseBoolean).orElse(false)) {
      try {
        servers.resource(server).dryRun().create();
      } catch (KubernetesClientException e) {
        throw Ec2Errors.of(e);
      }
      throw new Ec2Exception(
          412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    }
    VirtualServer created;
    try {
      created = servers.resource(server).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw Ec2Errors.of(e);
      }
      // A retry of a call that created its server: answer with that server, as EC2 does.
      created = servers.withName(server.getMetadata().getName()).get();
      if (created == null || !token.equals(annotation(created, Names.CLIENT_TOKEN_ANNOTATION))) {
        throw Ec2Errors.of(e);
      }
      if (!digest.equals(annotation(created, Names.REQUEST_DIGEST_ANNOTATION))) {
        throw new Ec2Exception(
            400,
            "IdempotentParameterMismatch",
            "The client token '"
                + token
                + "' was used by an earlier RunInstances call with other parameters; use a new"
                + " ClientToken for a new request");
      }
    }
    VirtualServer admitted = awaitAdmitted(caller, created);
    return Ec2Xml.response(
        "RunInstances", requestId, xml -> reservation(xml, key, admitted, minCount));
  }

  static String describeInstances(
      KubernetesClient caller,
      ServerViews views,
      AccessKey key,
      Ec2Request request,
      String requestId) {
    List<String> ids = request.list("InstanceId");
    Map<String, List<String>> filters = filters(request);
    List<VirtualServer> servers = views.list(caller, key.namespace());
    List<String> found = new ArrayList<>();
    Map<String, Shown> shownByUid = new TreeMap<>();
    for (VirtualServer server : servers) {
      List<InstanceStatus> instances =
          instances(server).stream()
              .filter(i -> ids.isEmpty() || ids.contains(i.instanceId()))
              .filter(i -> matches(filters, server, i))
              .toList();
      instances.forEach(i -> found.add(i.instanceId()));
      if (!instances.isEmpty()) {
        shownByUid.put(
            server.getMetadata().getUid(),
            new Shown(server.getMetadata().getName(), server, instances, new ArrayList<>()));
      }
    }
    List<String> missing = ids.stream().filter(id -> !found.contains(id)).toList();
    boolean endedWanted =
        filters.keySet().stream().allMatch(f -> f.equals("instance-state-name"))
            && filters
                .getOrDefault("instance-state-name", List.of("terminated"))
                .contains("terminated")
            && (ids.isEmpty() ? filters.containsKey("instance-state-name") : !missing.isEmpty());
    if (endedWanted) {
      for (Ended ended : ended(caller, key)) {
        if (ids.isEmpty()
            ? found.contains(ended.instanceId())
            : !missing.contains(ended.instanceId())) {
          continue;
        }
        found.add(ended.instanceId());
        shownByUid
            .computeIfAbsent(
                ended.serverUid(),
                uid -> new Shown(ended.serverName(), null, List.of(), new ArrayList<>()))
            .ended()
            .add(ended);
      }
    }
    missing = ids.stream().filter(id -> !found.contains(id)).toList();
    if (!missing.isEmpty()) {
      throw new Ec2Exception(
          400,
          "InvalidInstanceID.NotFound",
          "The instance IDs '" + String.join(", ", missing) + "' do not exist");
    }
    List<Map.Entry<String, Shown>> shown = new ArrayList<>(shownByUid.entrySet());
    shown.sort(Comparator.comparing(e -> e.getValue().name()));
    int from = startOf(request.string("NextToken"), shown.size());
    int max = maxResults(request.string("MaxResults"));
    List<Map.Entry<String, Shown>> page = new ArrayList<>();
    int instances = 0;
    int next = from;
    // Whole reservations, as many as fit in MaxResults instances (at least one).
    while (next < shown.size()
        && (page.isEmpty() || instances + shown.get(next).getValue().size() <= max)) {
      instances += shown.get(next).getValue().size();
      page.add(shown.get(next++));
    }
    String nextToken =
        next < shown.size()
            ? Base64.getUrlEncoder()
                .encodeToString(("offset:" + next).getBytes(StandardCharsets.UTF_8))
            : null;
    return Ec2Xml.response(
        "DescribeInstances",
        requestId,
        xml ->
            xml.items(
                    "reservationSet",
                    page,
                    (item, entry) -> {
                      Shown reservation = entry.getValue();
                      if (reservation.server() != null) {
                        reservationBody(
                            item,
                            key,
                            reservation.server(),
                            reservation.instances(),
                            reservation.ended());
                      } else {
                        endedReservation(item, key, entry.getKey(), reservation.ended());
                      }
                    })
                .text("nextToken", nextToken));
  }

  /** A reservation DescribeInstances shows: a server's instances and those of it that ended. */
  private record Shown(
      String name, VirtualServer server, List<InstanceStatus> instances, List<Ended> ended) {
    int size() {
      return instances.size() + ended.size();
    }
  }

  /** An instance that ended, as its InstanceTerminated Event tells. */
  private record Ended(String instanceId, String serverUid, String serverName, String time) {}

  /**
   * The instances of the key's namespace that ended within the API server's Event retention (an
   * hour by default, as long as EC2 shows terminated instances): each leaves an InstanceTerminated
   * Event naming it. A key whose identity may not list Events sees none.
   */
  private static List<Ended> ended(KubernetesClient caller, AccessKey key) {
    try {
      return caller
          .v1()
          .events()
          .inNamespace(key.namespace())
          .withField("reason", "InstanceTerminated")
          .withField("involvedObject.kind", "VirtualServer")
          .list()
          .getItems()
          .stream()
          .filter(
              e ->
                  e.getMetadata().getAnnotations() != null
                      && e.getMetadata().getAnnotations().containsKey(Names.INSTANCE_ID_ANNOTATION))
          .map(
              e ->
                  new Ended(
                      e.getMetadata().getAnnotations().get(Names.INSTANCE_ID_ANNOTATION),
                      e.getInvolvedObject().getUid(),
                      e.getInvolvedObject().getName(),
                      e.getLastTimestamp()))
          .toList();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 403) {
        return List.of();
      }
      throw Ec2Errors.of(e);
    }
  }

  /**
   * Terminates instances: all instances of a reservation delete its VirtualServer; the
   * highest-numbered ones scale it down, as a VirtualServer ends its highest indices first.
   */
  /**
   * Stops ({@code running} false) or starts ({@code running} true) instances: a VirtualServer's
   * instances run or stop together, so every instance of a reservation must be named. A start goes
   * through admission again, and a pool that filled up meanwhile refuses it.
   */
  static String setRunning(
      KubernetesClient caller,
      AccessKey key,
      Ec2Request request,
      String requestId,
      boolean running) {
    var servers = caller.resources(VirtualServer.class).inNamespace(key.namespace());
    Map<VirtualServer, List<InstanceStatus>> byServer =
        wholeReservations(servers.list().getItems(), request);
    try {
      for (VirtualServer server : byServer.keySet()) {
        servers
            .withName(server.getMetadata().getName())
            .patch(
                PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"running\":" + running + "}}");
      }
    } catch (KubernetesClientException e) {
      throw Ec2Errors.of(e);
    }
    String action = running ? "StartInstances" : "StopInstances";
    List<InstanceStatus> changed = byServer.values().stream().flatMap(List::stream).toList();
    return Ec2Xml.response(
        action,
        requestId,
        xml ->
            xml.items(
                "instancesSet",
                changed,
                (item, instance) ->
                    item.text("instanceId", instance.instanceId())
                        .element("currentState", s -> state(s, running ? "pending" : "stopping"))
                        .element("previousState", s -> state(s, instance.state()))));
  }

  /**
   * Restarts instances: a VirtualServer's instances restart together (its restarted-at annotation),
   * so every instance of a reservation must be named. Each keeps its node, id and reservation; a
   * stopped one stays stopped.
   */
  static String rebootInstances(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    var servers = caller.resources(VirtualServer.class).inNamespace(key.namespace());
    Map<VirtualServer, List<InstanceStatus>> byServer =
        wholeReservations(servers.list().getItems(), request);
    String now = Instant.now().toString();
    try {
      for (VirtualServer server : byServer.keySet()) {
        servers
            .withName(server.getMetadata().getName())
            .patch(
                PatchContext.of(PatchType.JSON_MERGE),
                "{\"spec\":{\"restartedAt\":\"" + now + "\"}}");
      }
    } catch (KubernetesClientException e) {
      throw Ec2Errors.of(e);
    }
    return Ec2Xml.response("RebootInstances", requestId, xml -> xml.text("return", true));
  }

  /**
   * The servers of the instances the request names, each with its instances: all of its live ones,
   * for the instances of a VirtualServer run, stop and restart together.
   */
  private static Map<VirtualServer, List<InstanceStatus>> wholeReservations(
      List<VirtualServer> servers, Ec2Request request) {
    List<String> ids = request.list("InstanceId");
    if (ids.isEmpty()) {
      throw new Ec2Exception(400, "MissingParameter", "The request must contain InstanceId.1");
    }
    Map<VirtualServer, List<InstanceStatus>> byServer = named(servers, ids);
    for (var entry : byServer.entrySet()) {
      List<InstanceStatus> live = live(entry.getKey());
      if (!entry.getValue().containsAll(live)) {
        throw new Ec2Exception(
            400,
            "UnsupportedOperation",
            "The instances of a reservation stop, start and reboot together in Nimbus: name all"
                + " of "
                + Names.reservationId(entry.getKey().getMetadata().getUid())
                + " ("
                + String.join(", ", live.stream().map(InstanceStatus::instanceId).toList())
                + ")");
      }
    }
    return byServer;
  }

  /** The servers of the instances {@code ids} names, each with its named instances. */
  private static Map<VirtualServer, List<InstanceStatus>> named(
      List<VirtualServer> servers, List<String> ids) {
    Map<VirtualServer, List<InstanceStatus>> byServer = new LinkedHashMap<>();
    List<String> found = new ArrayList<>();
    for (VirtualServer server : servers) {
      List<InstanceStatus> named =
          instances(server).stream().filter(i -> ids.contains(i.instanceId())).toList();
      if (!named.isEmpty()) {
        byServer.put(server, named);
        named.forEach(i -> found.add(i.instanceId()));
      }
    }
    List<String> missing = ids.stream().filter(id -> !found.contains(id)).toList();
    if (!missing.isEmpty()) {
      throw new Ec2Exception(
          400,
          "InvalidInstanceID.NotFound",
          "The instance IDs '" + String.join(", ", missing) + "' do not exist");
    }
    return byServer;
  }

  static String terminateInstances(
      KubernetesClient caller, AccessKey key, Ec2Request request, String requestId) {
    List<String> ids = request.list("InstanceId");
    if (ids.isEmpty()) {
      throw new Ec2Exception(400, "MissingParameter", "The request must contain InstanceId.1");
    }
    var servers = caller.resources(VirtualServer.class).inNamespace(key.namespace());
    Map<VirtualServer, List<InstanceStatus>> byServer = named(servers.list().getItems(), ids);
    List<InstanceStatus> terminated = byServer.values().stream().flatMap(List::stream).toList();
    // Per server, how many of its live instances stay: those it ends are its highest.
    Map<VirtualServer, Integer> keep = new LinkedHashMap<>();
    for (var entry : byServer.entrySet()) {
      VirtualServer server = entry.getKey();
      List<InstanceStatus> live = live(server);
      List<InstanceStatus> ending = entry.getValue().stream().filter(live::contains).toList();
      if (ending.isEmpty()) {
        continue; // already shutting down
      }
      if (Boolean.TRUE.equals(server.getSpec().terminationProtection())) {
        throw new Ec2Exception(
            400,
            "OperationNotPermitted",
            "The instance '"
                + ending.get(0).instanceId()
                + "' may not be terminated. Modify its 'disableApiTermination' instance attribute"
                + " and try again.");
      }
      int kept = live.size() - ending.size();
      if (!live.subList(kept, live.size()).containsAll(ending)) {
        throw new Ec2Exception(
            400,
            "UnsupportedOperation",
            "Nimbus ends the highest-numbered instances of a reservation first: of "
                + Names.reservationId(server.getMetadata().getUid())
                + ", terminate "
                + live.get(live.size() - 1).instanceId()
                + " before the others, or all of them at once");
      }
      keep.put(server, kept);
    }
    try {
      for (var entry : keep.entrySet()) {
        VirtualServer server = entry.getKey();
        int kept = entry.getValue();
        if (kept == 0) {
          servers.resource(server).delete();
        } else {
          servers
              .withName(server.getMetadata().getName())
              .patch(
                  PatchContext.of(PatchType.JSON_MERGE),
                  "{\"spec\":{\"maxCount\":"
                      + kept
                      + ",\"minCount\":"
                      + Math.min(kept, server.getSpec().minCount())
                      + "}}");
        }
      }
    } catch (KubernetesClientException e) {
      throw Ec2Errors.of(e);
    }
    return Ec2Xml.response(
        "TerminateInstances",
        requestId,
        xml ->
            xml.items(
                "instancesSet",
                terminated,
                (item, instance) ->
                    item.text("instanceId", instance.instanceId())
                        .element("currentState", s -> state(s, "shutting-down"))
                        .element("previousState", s -> state(s, instance.state()))));
  }

  private static void reservation(Ec2Xml xml, AccessKey key, VirtualServer server, int atLeast) {
    List<InstanceStatus> instances = instances(server);
    if (instances.isEmpty()) {
      // The controller has not reported yet: the webhook admitted at least MinCount.
      instances = new ArrayList<>();
      for (int index = 0; index < atLeast; index++) {
        instances.add(
            new InstanceStatus(
                Names.instanceId(server.getMetadata().getUid(), index),
                null,
                null,
                null,
                "pending"));
      }
    }
    reservationBody(xml, key, server, instances, List.of());
  }

  /** The reservation of a server that is gone, with those of its instances that ended. */
  private static void endedReservation(Ec2Xml xml, AccessKey key, String uid, List<Ended> ended) {
    xml.text("reservationId", Names.reservationId(uid))
        .text("ownerId", key.namespace())
        .items("groupSet", List.<String>of(), (item, group) -> item.text("groupName", group))
        .items("instancesSet", ended, Ec2Instances::endedInstance);
  }

  private static void endedInstance(Ec2Xml item, Ended ended) {
    item.text("instanceId", ended.instanceId())
        .element("instanceState", s -> state(s, "terminated"))
        .text("stateTransitionReason", "User initiated (" + ended.time() + ")");
  }

  private static void reservationBody(
      Ec2Xml xml,
      AccessKey key,
      VirtualServer server,
      List<InstanceStatus> instances,
      List<Ended> ended) {
    String uid = server.getMetadata().getUid();
    List<String> groups =
        server.getSpec().securityGroups() == null ? List.of() : server.getSpec().securityGroups();
    xml.text("reservationId", Names.reservationId(uid))
        .text("ownerId", key.namespace())
        .items("groupSet", groups, (item, group) -> item.text("groupName", group))
        .element(
            "instancesSet",
            list -> {
              for (InstanceStatus instance : instances) {
                list.element(
                    "item",
                    item ->
                        item.text("instanceId", instance.instanceId())
                            .text("imageId", imageId(server))
                            .element("instanceState", s -> state(s, instance.state()))
                            .text("privateDnsName", instance.vmName())
                            .text("keyName", server.getSpec().keyName())
                            .text("amiLaunchIndex", instances.indexOf(instance))
                            .text("instanceType", server.getSpec().instanceType())
                            .text("launchTime", server.getMetadata().getCreationTimestamp())
                            .text("privateIpAddress", instance.privateIp())
                            .items("groupSet", groups, (g, group) -> g.text("groupName", group))
                            .items(
                                "tagSet",
                                tagsOf(server).entrySet(),
                                (t, tag) ->
                                    t.text("key", tag.getKey()).text("value", tag.getValue())));
              }
              // Those a scale down ended, after those the reservation still has.
              ended.forEach(e -> list.element("item", item -> endedInstance(item, e)));
            });
  }

  private static void state(Ec2Xml xml, String state) {
    String name = state == null ? "pending" : state;
    xml.text("code", STATE_CODES.getOrDefault(name, 0)).text("name", name);
  }

  /**
   * The instances that are not being terminated: the first {@code spec.maxCount} the controller
   * reports (a scale down ends the highest indices).
   */
  private static List<InstanceStatus> live(VirtualServer server) {
    List<InstanceStatus> all = instances(server);
    return all.subList(0, Math.min(all.size(), server.getSpec().maxCount()));
  }

  /** The instances the controller reports, in index order. */
  private static List<InstanceStatus> instances(VirtualServer server) {
    return server.getStatus() == null || server.getStatus().instances() == null
        ? List.of()
        : server.getStatus().instances();
  }

  /**
   * The server once its status says how many instances the webhook admitted, or as it is after
   * {@link #ADMITTED_WAIT}.
   */
  private static VirtualServer awaitAdmitted(KubernetesClient caller, VirtualServer created) {
    Instant deadline = Instant.now().plus(ADMITTED_WAIT);
    VirtualServer latest = created;
    while (Instant.now().isBefore(deadline)) {
      if (latest != null
          && latest.getStatus() != null
          && latest.getStatus().admittedCount() != null
          && instances(latest).size() == latest.getStatus().admittedCount()) {
        return latest;
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      VirtualServer read = caller.resource(created).get();
      latest = read == null ? latest : read;
    }
    return latest;
  }

  private static int count(Ec2Request request, String name) {
    String value =
        request
            .string(name)
            .orElseThrow(
                () ->
                    new Ec2Exception(400, "MissingParameter", "The request must contain " + name));
    try {
      int count = Integer.parseInt(value);
      if (count < 1 || count > 100) {
        throw new NumberFormatException();
      }
      return count;
    } catch (NumberFormatException e) {
      throw new Ec2Exception(
          400,
          "InvalidParameterValue",
          name + " must be a whole number from 1 to 100 (a VirtualServer's limit), was " + value);
    }
  }

  /** The names of the SecurityGroups of the key's namespace whose ids are {@code ids}. */
  private static List<String> groupNames(KubernetesClient caller, AccessKey key, List<String> ids) {
    if (ids.isEmpty()) {
      return List.of();
    }
    Map<String, String> nameOf = new LinkedHashMap<>();
    for (var group :
        caller.resources(SecurityGroup.class).inNamespace(key.namespace()).list().getItems()) {
      nameOf.put(
          Names.securityGroupId(group.getMetadata().getUid()), group.getMetadata().getName());
    }
    List<String> missing = ids.stream().filter(id -> !nameOf.containsKey(id)).toList();
    if (!missing.isEmpty()) {
      throw new Ec2Exception(
          400,
          "InvalidGroup.NotFound",
          "The security group '" + String.join(", ", missing) + "' does not exist");
    }
    return ids.stream().map(nameOf::get).toList();
  }

  /** Where a page starts: 0, or the offset a NextToken of an earlier page holds. */
  private static int startOf(Optional<String> token, int size) {
    if (token.isEmpty()) {
      return 0;
    }
    try {
      String decoded =
          new String(Base64.getUrlDecoder().decode(token.get()), StandardCharsets.UTF_8);
      if (!decoded.startsWith("offset:")) {
        throw new IllegalArgumentException();
      }
      int offset = Integer.parseInt(decoded.substring("offset:".length()));
      if (offset < 0 || offset > size) {
        throw new IllegalArgumentException();
      }
      return offset;
    } catch (RuntimeException e) {
      throw new Ec2Exception(
          400, "InvalidParameterValue", "The token '" + token.get() + "' is invalid");
    }
  }

  /** MaxResults, 5 to 1000 as in EC2; none: every instance in one page. */
  private static int maxResults(Optional<String> value) {
    if (value.isEmpty()) {
      return Integer.MAX_VALUE;
    }
    try {
      int max = Integer.parseInt(value.get());
      if (max < 5 || max > 1000) {
        throw new NumberFormatException();
      }
      return max;
    } catch (NumberFormatException e) {
      throw new Ec2Exception(
          400,
          "InvalidParameterValue",
          "MaxResults must be a whole number from 5 to 1000, was " + value.get());
    }
  }

  /** UserData as EC2 takes it, base64, as the text a VirtualServer holds. */
  private static String userData(Ec2Request request) {
    return request
        .string("UserData")
        .map(
            encoded -> {
              try {
                return new String(Base64.getMimeDecoder().decode(encoded), StandardCharsets.UTF_8);
              } catch (IllegalArgumentException e) {
                throw new Ec2Exception(
                    400, "InvalidUserData.Malformed", "UserData must be base64-encoded");
              }
            })
        .orElse(null);
  }

  /** The tags of the {@code instance} TagSpecifications. */
  private static Map<String, String> tags(Ec2Request request) {
    Map<String, String> tags = new TreeMap<>();
    for (int spec = 1;
        request.string("TagSpecification." + spec + ".ResourceType").isPresent();
        spec++) {
      String prefix = "TagSpecification." + spec;
      String type = request.string(prefix + ".ResourceType").orElseThrow();
      if (!type.equals("instance")) {
        continue; // volumes, network interfaces...: Nimbus makes none of them
      }
      for (int tag = 1; request.string(prefix + ".Tag." + tag + ".Key").isPresent(); tag++) {
        tags.put(
            request.string(prefix + ".Tag." + tag + ".Key").orElseThrow(),
            request.string(prefix + ".Tag." + tag + ".Value").orElse(""));
      }
    }
    return tags;
  }

  private static Map<String, String> tagsOf(VirtualServer server) {
    String json = annotation(server, Names.TAGS_ANNOTATION);
    if (json == null) {
      return Map.of();
    }
    try {
      return JSON.readValue(json, new TypeReference<TreeMap<String, String>>() {});
    } catch (IOException e) {
      return Map.of(); // edited by hand into what is not JSON: shown without tags
    }
  }

  private static String imageId(VirtualServer server) {
    return Objects.requireNonNullElse(
        annotation(server, Names.IMAGE_ID_ANNOTATION), server.getSpec().image());
  }

  private static String annotation(VirtualServer server, String name) {
    var annotations = server.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(name);
  }

  /** {@code Filter.N.Name} to its {@code Filter.N.Value.M}. */
  private static Map<String, List<String>> filters(Ec2Request request) {
    Map<String, List<String>> filters = new LinkedHashMap<>();
    for (int i = 1; request.string("Filter." + i + ".Name").isPresent(); i++) {
      String name = request.string("Filter." + i + ".Name").orElseThrow();
      if (!name.equals("instance-state-name")
          && !name.equals("instance-id")
          && !name.equals("instance-type")
          && !name.equals("tag-key")
          && !name.startsWith("tag:")) {
        throw new Ec2Exception(
            400,
            "InvalidParameterValue",
            "The filter '"
                + name
                + "' is invalid (Nimbus filters on instance-id, instance-state-name,"
                + " instance-type, tag-key and tag:<key>)");
      }
      filters.put(name, request.list("Filter." + i + ".Value"));
    }
    return filters;
  }

  private static boolean matches(
      Map<String, List<String>> filters, VirtualServer server, InstanceStatus instance) {
    Map<String, String> tags = tagsOf(server);
    for (var filter : filters.entrySet()) {
      List<String> values = filter.getValue();
      boolean match =
          switch (filter.getKey()) {
            case "instance-state-name" -> values.contains(instance.state());
            case "instance-id" -> values.contains(instance.instanceId());
            case "instance-type" -> values.contains(server.getSpec().instanceType());
            case "tag-key" -> values.stream().anyMatch(tags::containsKey);
            default -> values.contains(tags.get(filter.getKey().substring("tag:".length())));
          };
      if (!match) {
        return false;
      }
    }
    return true;
  }
}
