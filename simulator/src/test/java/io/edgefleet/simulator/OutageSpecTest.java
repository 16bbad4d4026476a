package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class OutageSpecTest {
  @Test
  void parsesEveryForAndShare() {
    assertThat(OutageSpec.parse("every=10m,for=1m,share=20%"))
        .isEqualTo(new OutageSpec(Duration.ofMinutes(10), Duration.ofMinutes(1), 0.2));
    assertThat(OutageSpec.parse("for=30s, every=1h").share()).isEqualTo(1.0);
    assertThat(OutageSpec.parse("every=1h,for=30s,share=0.5").share()).isEqualTo(0.5);
  }

  @Test
  void refusesWhatItCannotMean() {
    assertThatThrownBy(() -> OutageSpec.parse("every=10m")).hasMessageContaining("required");
    assertThatThrownBy(() -> OutageSpec.parse("every=10m,for=1m,size=3"))
        .hasMessageContaining("unknown key 'size'");
    assertThatThrownBy(() -> OutageSpec.parse("every=1m,for=10m"))
        .hasMessageContaining("shorter than every");
    assertThatThrownBy(() -> OutageSpec.parse("every=ten,for=1m"))
        .hasMessageContaining("not a duration");
    assertThatThrownBy(() -> OutageSpec.parse("every=10m,for=1m,share=150%"))
        .hasMessageContaining("share");
    assertThatThrownBy(() -> OutageSpec.parse("every=10m,every=5m,for=1m"))
        .hasMessageContaining("twice");
  }
}
