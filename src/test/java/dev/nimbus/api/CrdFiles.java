package dev.nimbus.api;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.nimbus.api.v1alpha1.CapacityPool;
import dev.nimbus.api.v1alpha1.ContainerTask;
import dev.nimbus.api.v1alpha1.InstanceType;
import dev.nimbus.api.v1alpha1.ItemMaxLength;
import dev.nimbus.api.v1alpha1.KeyPair;
import dev.nimbus.api.v1alpha1.MachineImage;
import dev.nimbus.api.v1alpha1.SecurityGroup;
import dev.nimbus.api.v1alpha1.TaskDefinitionRevision;
import dev.nimbus.api.v1alpha1.VirtualServer;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.crdv2.generator.CRDPostProcessor;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Generates the CRD files under {@code crds/} from the API types. {@link CrdDriftTest} compares
 * them with what is committed; {@code hack/update-crds.sh} runs {@link #main} to rewrite them.
 */
public final class CrdFiles {
  public static final List<Class<? extends HasMetadata>> KINDS =
      List.of(
          VirtualServer.class,
          ContainerTask.class,
          CapacityPool.class,
          InstanceType.class,
          KeyPair.class,
          MachineImage.class,
          SecurityGroup.class,
          TaskDefinitionRevision.class);

  private CrdFiles() {}

  /** Writes one {@code <plural>.<group>.yaml} per kind into {@code dir}. */
  public static void generate(Path dir) throws IOException {
    Files.createDirectories(dir);
    new CRDGenerator()
        .inOutputDir(dir.toFile())
        .forCRDVersions("v1")
        .withParallelGenerationEnabled(false)
        .withMinQuotes(true)
        .withPostProcessor(new Tidy())
        .customResourceClasses(KINDS)
        .generate();
    try (var files = Files.list(dir)) {
      for (Path generated : files.filter(f -> f.toString().endsWith("-v1.yml")).toList()) {
        String name = generated.getFileName().toString().replace("-v1.yml", ".yaml");
        Files.move(generated, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args.length > 0 ? args[0] : "crds");
    generate(dir);
    System.out.println("Wrote " + KINDS.size() + " CRDs to " + dir.toAbsolutePath());
  }

  /**
   * Completes what the generator leaves undone:
   *
   * <ul>
   *   <li>every {@code status.conditions} list becomes a map keyed by {@code type}, as {@code
   *       metav1.Condition} lists are in Kubernetes' own APIs, so server-side apply merges
   *       conditions by type instead of replacing the list;
   *   <li>a rule annotated on a record component reaches the generator twice (field and accessor);
   *       each is kept once;
   *   <li>a label selector requirement takes only the operators label selectors have, In, NotIn,
   *       Exists and DoesNotExist;
   *   <li>printer columns keep the order in which the kind declares them, which is the order
   *       kubectl shows.
   * </ul>
   */
  static final class Tidy implements CRDPostProcessor {
    /** The fields of metav1.Condition, which the generator takes from a type it cannot read. */
    private static final Map<String, String> CONDITION_FIELDS =
        Map.of(
            "type", "The kind of observation, in CamelCase, such as Ready or Admitted.",
            "status", "True, False or Unknown.",
            "reason", "Why the condition last changed, one CamelCase word for machines.",
            "message", "Why the condition last changed, in words for people.",
            "lastTransitionTime", "When the status last changed (RFC 3339).",
            "observedGeneration", "The metadata.generation the condition was computed from.");

    private static final Map<String, String> LABEL_SELECTOR_FIELDS =
        Map.of(
            "matchLabels", "Labels a node must carry, each with exactly this value.",
            "matchExpressions", "Requirements on node labels, all of which must hold.");

    private static final Map<String, String> REQUIREMENT_FIELDS =
        Map.of(
            "key", "The label key the requirement is about.",
            "operator", "In, NotIn, Exists or DoesNotExist.",
            "values", "The values for In and NotIn; empty for Exists and DoesNotExist.");

    @Override
    public HasMetadata process(HasMetadata crd, String crdSpecVersion) {
      var definition = (CustomResourceDefinition) crd;
      Class<?> kind = kindNamed(definition.getSpec().getNames().getKind());
      List<String> columnOrder =
          Arrays.stream(kind.getAnnotationsByType(AdditionalPrinterColumn.class))
              .map(AdditionalPrinterColumn::name)
              .toList();
      for (var version : definition.getSpec().getVersions()) {
        JSONSchemaProps root = version.getSchema().getOpenAPIV3Schema();
        describe(root, kind);
        describe(root.getProperties().get("spec"), typeArgument(kind, 0));
        describe(root.getProperties().get("status"), typeArgument(kind, 1));
        tidy(root, "");
        sizeListItems(root.getProperties().get("spec"), typeArgument(kind, 0));
        version
            .getAdditionalPrinterColumns()
            .sort(Comparator.comparingInt(column -> columnOrder.indexOf(column.getName())));
      }
      return crd;
    }

    /** The generator leaves the kind, spec and status undescribed; kubectl explain needs them. */
    private static void describe(JSONSchemaProps schema, Class<?> type) {
      JsonClassDescription description = type.getAnnotation(JsonClassDescription.class);
      if (schema != null && description != null) {
        schema.setDescription(description.value());
      }
    }

    private static Class<?> typeArgument(Class<?> kind, int index) {
      var generic = (ParameterizedType) kind.getGenericSuperclass();
      return (Class<?>) generic.getActualTypeArguments()[index];
    }

    private static void describeProperties(JSONSchemaProps schema, Map<String, String> docs) {
      docs.forEach((field, doc) -> schema.getProperties().get(field).setDescription(doc));
    }

    /** Walks the schema beside the record types it came from, applying {@link ItemMaxLength}. */
    private static void sizeListItems(JSONSchemaProps schema, Type type) {
      if (schema == null) {
        return;
      }
      if (type instanceof ParameterizedType list && List.class.equals(list.getRawType())) {
        sizeListItems(schema.getItems().getSchema(), list.getActualTypeArguments()[0]);
        return;
      }
      if (!(type instanceof Class<?> record) || !record.isRecord()) {
        return;
      }
      for (RecordComponent component : record.getRecordComponents()) {
        JSONSchemaProps property = schema.getProperties().get(component.getName());
        ItemMaxLength itemMaxLength = component.getAnnotation(ItemMaxLength.class);
        if (itemMaxLength != null) {
          property.getItems().getSchema().setMaxLength((long) itemMaxLength.value());
        }
        sizeListItems(property, component.getGenericType());
      }
    }

    private static Class<?> kindNamed(String kind) {
      return KINDS.stream().filter(k -> k.getSimpleName().equals(kind)).findFirst().orElseThrow();
    }

    private static void tidy(JSONSchemaProps schema, String name) {
      if (schema == null) {
        return;
      }
      if (schema.getXKubernetesValidations() != null) {
        schema.setXKubernetesValidations(
            new ArrayList<>(new LinkedHashSet<>(schema.getXKubernetesValidations())));
      }
      if (name.equals("conditions") && "array".equals(schema.getType())) {
        schema.setXKubernetesListType("map");
        schema.setXKubernetesListMapKeys(List.of("type"));
        schema.getItems().getSchema().setRequired(List.of("status", "type"));
        describeProperties(schema.getItems().getSchema(), CONDITION_FIELDS);
      }
      if (schema.getProperties() != null
          && schema.getProperties().containsKey("matchExpressions")) {
        describeProperties(schema, LABEL_SELECTOR_FIELDS);
        JSONSchemaProps requirement =
            schema.getProperties().get("matchExpressions").getItems().getSchema();
        describeProperties(requirement, REQUIREMENT_FIELDS);
        // The operators of metav1.LabelSelectorRequirement, which the Java type cannot say.
        requirement
            .getProperties()
            .get("operator")
            .setEnum(
                Stream.of("In", "NotIn", "Exists", "DoesNotExist")
                    .<com.fasterxml.jackson.databind.JsonNode>map(TextNode::new)
                    .toList());
        requirement.setRequired(List.of("key", "operator"));
      }
      Map<String, JSONSchemaProps> properties = schema.getProperties();
      if (properties != null) {
        properties.forEach((child, property) -> tidy(property, child));
      }
      if (schema.getItems() != null) {
        tidy(schema.getItems().getSchema(), "");
      }
    }
  }
}
