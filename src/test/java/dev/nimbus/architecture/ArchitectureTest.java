package dev.nimbus.architecture;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaAnnotation;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import dev.nimbus.config.Retries;
import dev.nimbus.ledger.LedgerStore;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The shape of the code that the build keeps (STYLE.md, "a pure core, thin edges"). */
class ArchitectureTest {
  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.nimbus");
  }

  @Test
  void noConfigurationServiceCustomizer() {
    noClasses()
        .should()
        .implement("io.quarkiverse.operatorsdk.runtime.api.ConfigurationServiceCustomizer")
        .because(
            "behind a customizer QOSDK's configuration service builds a new Kubernetes client for"
                + " every reconcile (see LeaderElection)")
        .check(production);
  }

  @Test
  void everyControllerRetriesAFailedReconcileWithoutEnd() {
    classes()
        .that()
        .areAnnotatedWith("io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration")
        .should()
        .beAnnotatedWith(
            DescribedPredicate.describe(
                "@GradualRetry(maxAttempts = Retries.FOREVER)",
                (JavaAnnotation<?> annotation) ->
                    annotation.getRawType().isEquivalentTo(GradualRetry.class)
                        && Integer.valueOf(Retries.FOREVER)
                            .equals(annotation.get("maxAttempts").orElse(null))))
        .because(
            "a workload whose reconcile failed more than JOSDK's default 5 times waits for an event"
                + " that may never come (see Retries)")
        .check(production);
  }

  @Test
  void allocationModelIsPlainJava() {
    noClasses()
        .that()
        .resideInAPackage("dev.nimbus.allocation..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.fabric8..",
            "io.javaoperatorsdk..",
            "io.quarkus..",
            "io.quarkiverse..",
            "io.micrometer..",
            "jakarta..",
            "com.fasterxml..",
            "dev.nimbus.api..")
        .because("the capacity model must be testable exhaustively without Kubernetes")
        .check(production);
  }

  @Test
  void kubeVirtModelDependsOnNothingOfTheOperator() {
    noClasses()
        .that()
        .resideInAPackage("dev.nimbus.kubevirt..")
        .should()
        .dependOnClassesThat(
            resideInAPackage("dev.nimbus..").and(not(resideInAPackage("dev.nimbus.kubevirt.."))))
        .because("the KubeVirt model is a client library of its own")
        .check(production);
  }

  @Test
  void apiTypesDependOnNothingOfTheOperator() {
    noClasses()
        .that()
        .resideInAPackage("dev.nimbus.api..")
        .should()
        .dependOnClassesThat(
            resideInAPackage("dev.nimbus..").and(not(resideInAPackage("dev.nimbus.api.."))))
        .because("the API types are the user contract and must not pull in operator internals")
        .check(production);
  }

  @Test
  void theAdmissionDecisionMakesNoCall() {
    noClasses()
        .that()
        .haveFullyQualifiedName("dev.nimbus.webhook.AdmissionDecision")
        .should()
        .dependOnClassesThat()
        .haveFullyQualifiedName("io.fabric8.kubernetes.client.KubernetesClient")
        .orShould()
        .dependOnClassesThat()
        .haveFullyQualifiedName("dev.nimbus.inventory.Inventory")
        .orShould()
        .callMethodWhere(
            com.tngtech.archunit.core.domain.JavaCall.Predicates.target(
                com.tngtech.archunit.core.domain.properties.HasOwner.Predicates.With.owner(
                    com.tngtech.archunit.core.domain.JavaClass.Predicates.type(LedgerStore.class))))
        .because(
            "the webhook is a thin adapter over a pure decision, which reads only what it is given")
        .check(production);
  }

  /**
   * Every informer lists in pages (README, "What a tenant's objects cost the operator"). One that
   * does not asks the API server for the whole kind in one response, from its watch cache: at 8,000
   * VirtualMachines, on a loaded API server, a new leader's list outlasted the client's 10 s
   * request timeout, and JOSDK stops an operator whose informer cannot start. Counted per method:
   * each source it configures sets its page size, and each fabric8 informer it starts over more
   * than one named object.
   */
  @Test
  void everyInformerListsInPages() {
    assertThat(
            methodsWhere(
                calls ->
                    count(calls, SOURCE, "from")
                            > count(calls, SOURCE_BUILDER, "withInformerListLimit")
                        || count(calls, CLIENT_DSL, "inform")
                                + count(calls, CLIENT_DSL, "runnableInformer")
                            > count(calls, CLIENT_DSL, "withLimit")
                                + count(calls, CLIENT_DSL, "withName")))
        .isEmpty();
  }

  /**
   * Every cache keeps what Nimbus reads ({@code SlimItemStore}: no managedFields, shared values),
   * or less: a source that configures none keeps every object whole, as the API server sends it.
   * Counted per method, as above: each source and each fabric8 informer it makes sets its store.
   */
  @Test
  void everyCacheKeepsWhatNimbusReads() {
    assertThat(
            methodsWhere(
                calls ->
                    count(calls, SOURCE, "from") > count(calls, SOURCE_BUILDER, "withItemStore")
                        || count(calls, CLIENT_DSL, "runnableInformer")
                            > count(calls, INFORMER, "itemStore")))
        .isEmpty();
  }

  private static final Predicate<String> SOURCE =
      owner -> owner.endsWith(".InformerEventSourceConfiguration");
  private static final Predicate<String> SOURCE_BUILDER =
      owner -> owner.endsWith(".InformerEventSourceConfiguration$Builder");
  private static final Predicate<String> CLIENT_DSL =
      owner -> owner.startsWith("io.fabric8.kubernetes.client.dsl.");
  private static final Predicate<String> INFORMER =
      owner -> owner.equals("io.fabric8.kubernetes.client.informers.SharedIndexInformer");

  /** The production methods and constructors whose own calls {@code wrong} holds of. */
  private static List<String> methodsWhere(Predicate<Set<JavaMethodCall>> wrong) {
    return production.stream()
        .flatMap(type -> type.getCodeUnits().stream())
        .filter(method -> wrong.test(method.getMethodCallsFromSelf()))
        .map(JavaCodeUnit::getFullName)
        .toList();
  }

  /** The calls to {@code name} of a class that {@code owner} accepts. */
  private static long count(Set<JavaMethodCall> calls, Predicate<String> owner, String name) {
    return calls.stream()
        .filter(call -> call.getName().equals(name))
        .filter(call -> owner.test(call.getTargetOwner().getName()))
        .count();
  }
}
