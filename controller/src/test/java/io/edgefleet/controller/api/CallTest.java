package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CallTest {

  private static Call withQuery(Map<String, String> query) {
    return new Call(Map.of(), query, new byte[0], "admin", Optional.empty(), "127.0.0.1", Map.of());
  }

  @Test
  void aRequiredPositiveNumberIsParsed() {
    assertThat(withQuery(Map.of("version", "42")).requiredPositive("version", "the version"))
        .isEqualTo(42L);
  }

  @Test
  void aMissingNumberSaysWhatItIs() {
    assertThatThrownBy(() -> withQuery(Map.of()).requiredPositive("version", "the token version"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessage("version is required: the token version");
  }

  @Test
  void zeroNegativeAndWordsAreRefusedNamingTheValue() {
    for (String bad : new String[] {"0", "-3", "two", "99999999999999999999"}) {
      assertThatThrownBy(() -> withQuery(Map.of("version", bad)).requiredPositive("version", "x"))
          .isInstanceOf(ControllerException.class)
          .hasMessage("version must be a whole number from 1, got " + bad);
    }
  }

  record Shape(String name, Integer min) {}

  @Test
  void aStrictBodyRefusesAFieldTheTypeDoesNotHaveNamingTheFieldsItHas() {
    Call c =
        new Call(
            Map.of(),
            Map.of(),
            "{\"name\":\"a\",\"serversMin\":3}".getBytes(java.nio.charset.StandardCharsets.UTF_8),
            "admin",
            Optional.empty(),
            "127.0.0.1",
            Map.of());
    assertThat(c.body(Shape.class)).isEqualTo(new Shape("a", null));
    assertThatThrownBy(() -> c.strictBody(Shape.class))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessage("unknown field 'serversMin': the fields are min, name");
  }
}
