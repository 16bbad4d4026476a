package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** NAME@VERSION references. */
class AppRefTest {

  @Test
  void parsesNameAndVersion() {
    AppRef ref = AppRef.parse(" pos@1.2.0-rc.1 ");

    assertThat(ref).isEqualTo(new AppRef("pos", "1.2.0-rc.1"));
    assertThat(ref.toString()).isEqualTo("pos@1.2.0-rc.1");
    assertThat(ref.path()).isEqualTo("/api/v1/catalog/apps/pos/versions/1.2.0-rc.1");
  }

  @Test
  void aMissingVersionSaysHowToGiveIt() {
    assertThatThrownBy(() -> AppRef.parse("pos"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "'pos' is not NAME@VERSION: give the version after '@', for example pos@1.2.0"
                + " (`apps versions pos` lists them)");
  }

  @Test
  void badNamesAndVersionsAreNamed() {
    assertThatThrownBy(() -> AppRef.parse("POS@1.0.0"))
        .hasMessageStartingWith("'POS@1.0.0' is not NAME@VERSION: 'POS' is not an app name");
    assertThatThrownBy(() -> AppRef.parse("pos@"))
        .hasMessageStartingWith("'pos@' is not NAME@VERSION: '' is not a version");
    assertThatThrownBy(() -> AppRef.parse("pos@1.0/0"))
        .hasMessageContaining("'1.0/0' is not a version");
    assertThatThrownBy(() -> AppRef.parse("pos@1@2")).hasMessageContaining("more than one '@'");
  }

  @Test
  void theConverterReportsAPicocliConversionError() {
    assertThatThrownBy(() -> new AppRef.Converter().convert("pos"))
        .isInstanceOf(TypeConversionException.class)
        .hasMessageContaining("is not NAME@VERSION");
    assertThat(new AppRef.Converter().convert("pos@2")).isEqualTo(new AppRef("pos", "2"));
  }
}
