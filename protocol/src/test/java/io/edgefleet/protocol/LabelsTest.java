package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LabelsTest {
  @Test
  void acceptsKubernetesStyleLabels() {
    assertThatCode(() -> Labels.validate("site", "store-17")).doesNotThrowAnyException();
    assertThatCode(() -> Labels.validate("edgefleet.io/role", "pos")).doesNotThrowAnyException();
    assertThatCode(() -> Labels.validate("tz", "Europe_Berlin")).doesNotThrowAnyException();
    assertThatCode(() -> Labels.validate("empty", "")).doesNotThrowAnyException();
  }

  @Test
  void refusesBadKeysAndValuesNamingThem() {
    assertThatThrownBy(() -> Labels.validate("bad key", "x")).hasMessageContaining("'bad key'");
    assertThatThrownBy(() -> Labels.validate("-lead", "x")).hasMessageContaining("'-lead'");
    assertThatThrownBy(() -> Labels.validate("Bad_Prefix/x", "y")).hasMessageContaining("prefix");
    assertThatThrownBy(() -> Labels.validate("k", "a".repeat(64))).hasMessageContaining("63");
    assertThatThrownBy(() -> Labels.validate("k", "Europe/Berlin"))
        .hasMessageContaining("Europe/Berlin");
    assertThatThrownBy(() -> Labels.validate("", "x")).hasMessageContaining("empty");
  }
}
