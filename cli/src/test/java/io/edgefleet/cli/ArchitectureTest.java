package io.edgefleet.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * A CLI call may run in a process other than its caller's (the CLI server): commands read the
 * caller's environment, directory and terminals from {@link Invocation} only, never from the
 * process.
 */
@AnalyzeClasses(packages = "io.edgefleet.cli", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

  @ArchTest
  static final ArchRule onlyTheInvocationReadsTheProcessEnvironment =
      noClasses()
          .that()
          .doNotHaveFullyQualifiedName(Invocation.class.getName())
          .should()
          .callMethod(System.class, "getenv")
          .orShould()
          .callMethod(System.class, "getenv", String.class)
          .because("a served call sees its caller's environment through Invocation.current()");

  @ArchTest
  static final ArchRule onlyTheInvocationAsksWhetherTheProcessHasATerminal =
      noClasses()
          .that()
          .doNotHaveFullyQualifiedName(Invocation.class.getName())
          .should()
          .callMethod(System.class, "console")
          .because("a served call's terminals are its caller's, given in Invocation.current()");
}
