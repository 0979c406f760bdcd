package dev.nimbus.testing;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.PrintStream;
import java.util.List;

/**
 * Prints what a failed test left in its namespace: Nimbus objects, KubeVirt objects, pods and
 * events.
 */
final class Diagnostics {
  private static final List<String> KINDS =
      List.of(
          "VirtualServer",
          "ContainerTask",
          "KeyPair",
          "SecurityGroup",
          "VirtualMachine",
          "VirtualMachineInstance");

  private Diagnostics() {}

  static void dump(KubernetesClient client, String namespace, PrintStream out) {
    out.println("==== objects in namespace " + namespace + " after the failure ====");
    try {
      for (String kind : KINDS) {
        String apiVersion =
            kind.startsWith("VirtualMachine") ? "kubevirt.io/v1" : "compute.nimbus.dev/v1alpha1";
        for (GenericKubernetesResource object :
            client
                .genericKubernetesResources(apiVersion, kind)
                .inNamespace(namespace)
                .list()
                .getItems()) {
          object.getMetadata().setManagedFields(null);
          out.println(Serialization.asYaml(object));
        }
      }
      for (var pod : client.pods().inNamespace(namespace).list().getItems()) {
        pod.getMetadata().setManagedFields(null);
        out.println(Serialization.asYaml(pod));
      }
      out.println("==== events ====");
      client
          .v1()
          .events()
          .inNamespace(namespace)
          .list()
          .getItems()
          .forEach(
              e ->
                  out.printf(
                      "%s %s %s/%s: %s%n",
                      e.getType(),
                      e.getReason(),
                      e.getInvolvedObject().getKind(),
                      e.getInvolvedObject().getName(),
                      e.getMessage()));
    } catch (RuntimeException e) {
      out.println("could not dump namespace " + namespace + ": " + e);
    }
  }
}
