package io.edgefleet.agent;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;

/** The agent's packages form layers: none depends on another that depends back on it. */
@AnalyzeClasses(
    packages = "io.edgefleet.agent",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  /**
   * Every package is its own slice, the root package and nested ones ({@code runtime} and {@code
   * runtime.kubernetes}) included.
   */
  private static final SliceAssignment PACKAGES =
      new SliceAssignment() {
        @Override
        public SliceIdentifier getIdentifierOf(JavaClass c) {
          return c.getPackageName().startsWith("io.edgefleet.agent")
              ? SliceIdentifier.of(c.getPackageName())
              : SliceIdentifier.ignore();
        }

        @Override
        public String getDescription() {
          return "the agent's packages";
        }
      };

  @ArchTest
  static final ArchRule packagesAreFreeOfCycles =
      slices().assignedFrom(PACKAGES).should().beFreeOfCycles();

  /**
   * Each class the agent loads costs it memory on the device (decision 0041): PEM and DER are read
   * and written with the JDK and {@code protocol.tls}, not with Bouncy Castle's general ASN.1 and
   * provider classes (several hundred classes for a certificate request and a key file).
   */
  @ArchTest
  static final ArchRule noBouncyCastle =
      noClasses()
          .that()
          .resideInAPackage("io.edgefleet.agent..")
          .should()
          .dependOnClassesThat()
          .resideInAPackage("org.bouncycastle..");

  /**
   * JSON goes through the lean codec ({@code io.edgefleet.protocol.json.JsonCodec}): Jackson's
   * {@code ObjectMapper} and the Java-time module, and the controller's configuration built on
   * them, would load hundreds of classes into every agent process that starts.
   */
  @ArchTest
  static final ArchRule noDatabindMapper =
      noClasses()
          .that()
          .resideInAPackage("io.edgefleet.agent..")
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
