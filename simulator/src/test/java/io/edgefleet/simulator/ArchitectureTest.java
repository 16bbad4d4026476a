package io.edgefleet.simulator;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/** Virtual devices run the device core, never a copy of the agent or the agent itself. */
@AnalyzeClasses(
    packages = "io.edgefleet.simulator",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  @ArchTest
  static final ArchRule doesNotUseTheAgent =
      noClasses()
          .that()
          .resideInAPackage("io.edgefleet.simulator..")
          .should()
          .dependOnClassesThat()
          .resideInAPackage("io.edgefleet.agent..");
}
