package io.edgefleet.controller;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaFieldAccess;
import com.tngtech.archunit.core.domain.JavaMethod;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The controller's package rules (decision 0015): no cycles between its packages, nothing depends
 * on the composition root, the HTTP layer knows no feature, collaborators are passed at
 * construction (decision 0019), and project classes are imported, not named inline.
 */
class PackageRulesTest {
  private static final String ROOT = "io.edgefleet.controller";

  private static JavaClasses controller;

  @BeforeAll
  static void importClasses() {
    controller =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages(ROOT);
  }

  @Test
  void packagesHaveNoCycles() {
    slices().matching(ROOT + ".(*)..").should().beFreeOfCycles().check(controller);
  }

  @Test
  void nothingDependsOnTheCompositionRoot() {
    noClasses()
        .that()
        .resideOutsideOfPackage(ROOT)
        .should()
        .dependOnClassesThat()
        .resideInAPackage(ROOT)
        .because("the root package only wires the controller (Controller, its command and config)")
        .check(controller);
  }

  @Test
  void theHttpLayerKnowsNoFeature() {
    classes()
        .that()
        .resideInAPackage(ROOT + ".api..")
        .should()
        .onlyDependOnClassesThat(
            JavaClass.Predicates.resideOutsideOfPackage(ROOT + "..")
                .or(
                    JavaClass.Predicates.resideInAnyPackage(
                        ROOT + ".api..", ROOT + ".common..", ROOT + ".pki..")))
        .because("each feature registers its own routes (api.Routes); api serves them")
        .check(controller);
  }

  @Test
  void collaboratorsArePassedAtConstruction() {
    methods()
        .should(notStoreAListenerOrSource())
        .because(
            "the object graph is complete when Controller's constructor ends (decision 0019):"
                + " listeners and sources are constructor parameters, not set afterwards")
        .check(controller);
  }

  /** A setter of a collaborator: a method that assigns a field holding a functional interface. */
  private static ArchCondition<JavaMethod> notStoreAListenerOrSource() {
    return new ArchCondition<>("not store a listener or source in a field") {
      @Override
      public void check(JavaMethod method, ConditionEvents events) {
        for (JavaFieldAccess access : method.getFieldAccesses()) {
          if (access.getAccessType() == JavaFieldAccess.AccessType.SET
              && isFunctional(access.getTarget().getRawType())) {
            events.add(SimpleConditionEvent.violated(method, access.getDescription()));
          }
        }
      }
    };
  }

  private static boolean isFunctional(JavaClass type) {
    return type.isInterface()
        && (type.getPackageName().equals("java.util.function")
            || type.isAnnotatedWith(FunctionalInterface.class));
  }

  @Test
  void projectClassesAreImportedNotNamedInline() throws IOException {
    List<String> inline = new ArrayList<>();
    for (Path sources : List.of(Path.of("src/main/java"), Path.of("src/test/java"))) {
      try (Stream<Path> files = Files.walk(sources)) {
        for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
          String[] lines = codeOnly(Files.readString(file)).split("\n", -1);
          for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.contains("io.edgefleet.")
                && !line.startsWith("package ")
                && !line.startsWith("import ")) {
              inline.add(file + ":" + (i + 1) + ": " + line);
            }
          }
        }
      }
    }
    assertThat(inline).as("fully-qualified project names in code; import them").isEmpty();
  }

  /** The source with comments, string and character literals blanked; line breaks are kept. */
  static String codeOnly(String source) {
    StringBuilder out = new StringBuilder(source.length());
    int i = 0;
    int n = source.length();
    while (i < n) {
      char c = source.charAt(i);
      if (source.startsWith("//", i)) {
        while (i < n && source.charAt(i) != '\n') {
          i++;
        }
      } else if (source.startsWith("/*", i)) {
        int end = source.indexOf("*/", i + 2);
        end = end < 0 ? n : end + 2;
        blank(source, i, end, out);
        i = end;
      } else if (source.startsWith("\"\"\"", i)) {
        int end = source.indexOf("\"\"\"", i + 3);
        end = end < 0 ? n : end + 3;
        blank(source, i, end, out);
        i = end;
      } else if (c == '"' || c == '\'') {
        int end = i + 1;
        while (end < n && source.charAt(end) != c && source.charAt(end) != '\n') {
          end += source.charAt(end) == '\\' ? 2 : 1;
        }
        end = Math.min(n, end + 1);
        blank(source, i, end, out);
        i = end;
      } else {
        out.append(c);
        i++;
      }
    }
    return out.toString();
  }

  private static void blank(String source, int from, int to, StringBuilder out) {
    for (int k = from; k < to; k++) {
      out.append(source.charAt(k) == '\n' ? '\n' : ' ');
    }
  }

  @Test
  void codeOnlyKeepsCodeAndDropsCommentsAndStrings() {
    String source =
        "import a.B; // io.edgefleet.x.Y\n"
            + "/* io.edgefleet.\n x */ String s = \"io.edgefleet.Z\";\n"
            + "char c = '\"'; var v = io.edgefleet.Q.of();\n";
    String[] lines = codeOnly(source).split("\n", -1);
    assertThat(lines[0]).isEqualTo("import a.B; ");
    assertThat(lines[1]).doesNotContain("io.edgefleet.");
    assertThat(lines[2]).doesNotContain("io.edgefleet.").contains("String s =");
    assertThat(lines[3]).contains("var v = io.edgefleet.Q.of();");
  }
}
