package io.edgefleet.protocol;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The protocol code the agent runs (the JSON codec, the tunnel) needs no databind {@code
 * ObjectMapper}: only the controller and the CLI use {@link Json}.
 */
@AnalyzeClasses(
    packages = "io.edgefleet.protocol",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  @ArchTest
  static final ArchRule theCodecAndTheTunnelNeedNoMapper =
      noClasses()
          .that()
          .resideInAnyPackage("io.edgefleet.protocol.json..", "io.edgefleet.protocol.tunnel..")
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
