package dev.nimbus.architecture;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
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
                    com.tngtech.archunit.core.domain.JavaClass.Predicates.type(
                        dev.nimbus.ledger.LedgerStore.class))))
        .because(
            "the webhook is a thin adapter over a pure decision, which reads only what it is given")
        .check(production);
  }
}
