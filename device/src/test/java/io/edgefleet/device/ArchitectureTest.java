package io.edgefleet.device;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The device core is shared by the agent and the simulator: it builds on the protocol and the JDK
 * (and the JSON library the protocol brings) and on nothing of either user. Not on a general ASN.1
 * or crypto library either: each class a device loads costs it memory (decision 0041).
 */
@AnalyzeClasses(
    packages = "io.edgefleet.device",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  @ArchTest
  static final ArchRule dependsOnlyOnTheProtocolAndLibraries =
      classes()
          .that()
          .resideInAPackage("io.edgefleet.device..")
          .should()
          .onlyDependOnClassesThat()
          .resideInAnyPackage(
              "io.edgefleet.device..",
              "io.edgefleet.protocol..",
              "java..",
              "javax..",
              "com.fasterxml.jackson..");

  @ArchTest
  static final ArchRule packagesAreFreeOfCycles =
      slices().matching("io.edgefleet.device.(**)").should().beFreeOfCycles();

  /**
   * JSON goes through the lean codec ({@code io.edgefleet.protocol.json.JsonCodec}): Jackson's
   * {@code ObjectMapper} and the Java-time module, and the controller's configuration built on
   * them, would load hundreds of classes into every agent (and simulated device) that starts.
   */
  @ArchTest
  static final ArchRule noDatabindMapper =
      noClasses()
          .that()
          .resideInAPackage("io.edgefleet.device..")
          .should()
          .dependOnClassesThat()
          .haveFullyQualifiedName("com.fasterxml.jackson.databind.ObjectMapper")
          .orShould()
          .dependOnClassesThat()
          .haveFullyQualifiedName("com.fasterxml.jackson.databind.json.JsonMapper")
          .orShould()
          .dependOnClassesThat()
          .resideInAPackage("com.fasterxml.jackson.datatype..")
          .orShould()
          .dependOnClassesThat()
          .haveFullyQualifiedName("io.edgefleet.protocol.Json");
}
