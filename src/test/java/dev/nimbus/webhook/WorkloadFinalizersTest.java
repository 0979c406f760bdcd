package dev.nimbus.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nimbus.naming.Names;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class WorkloadFinalizersTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void aCreatedServerWithoutFinalizersGetsItsOwn() throws Exception {
    var response =
        WorkloadFinalizers.review(request("VirtualServer", "CREATE", "{\"metadata\":{}}"));

    assertThat(response.getAllowed()).isTrue();
    assertThat(response.getPatchType()).isEqualTo("JSONPatch");
    assertThat(JSON.readTree(Base64.getDecoder().decode(response.getPatch())))
        .isEqualTo(
            JSON.readTree(
                "[{\"op\":\"add\",\"path\":\"/metadata/finalizers\",\"value\":[\""
                    + Names.SERVER_FINALIZER
                    + "\"]}]"));
  }

  @Test
  void aCreatedTaskWithAnotherFinalizerKeepsItAndGetsItsOwnAfterIt() {
    assertThat(
            WorkloadFinalizers.patch(
                request(
                    "ContainerTask",
                    "CREATE",
                    "{\"metadata\":{\"finalizers\":[\"example.com/a\"]}}")))
        .contains(
            "[{\"op\":\"add\",\"path\":\"/metadata/finalizers/-\",\"value\":\""
                + Names.TASK_FINALIZER
                + "\"}]");
  }

  @Test
  void aFinalizerAlreadyThereIsNotAddedTwice() {
    assertThat(
            WorkloadFinalizers.patch(
                request(
                    "VirtualServer",
                    "CREATE",
                    "{\"metadata\":{\"finalizers\":[\"" + Names.SERVER_FINALIZER + "\"]}}")))
        .isEmpty();
  }

  @Test
  void updatesOtherKindsAndObjectsOfTheWrongShapeAreAllowedUnchanged() {
    for (var request :
        new AdmissionReviews.Request[] {
          request("VirtualServer", "UPDATE", "{\"metadata\":{}}"),
          request("Pod", "CREATE", "{\"metadata\":{}}"),
          request("VirtualServer", "CREATE", "{\"metadata\":{\"finalizers\":\"one\"}}"),
          request("VirtualServer", "CREATE", "{\"metadata\":[]}"),
          request("ContainerTask", "CREATE", "{}"),
          request("ContainerTask", "CREATE", "[]"),
          request("ContainerTask", "CREATE", null)
        }) {
      var response = WorkloadFinalizers.review(request);
      assertThat(response.getAllowed()).as("%s", request).isTrue();
      assertThat(response.getPatch()).as("%s", request).isNull();
    }
  }

  private static AdmissionReviews.Request request(String kind, String operation, String object) {
    JsonNode tree;
    try {
      tree = object == null ? null : JSON.readTree(object.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalArgumentException(e);
    }
    return new AdmissionReviews.Request("uid-1", kind, operation, "ns", "name", false, tree, null);
  }
}
