package io.edgefleet.agent.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.Telemetry;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WindowTest {
  @Test
  void summarisesMinMaxMeanLastAndCountPerMetric() {
    Window w = new Window();
    w.add(Map.of("a", 3.0, "b", 10.0));
    w.add(Map.of("a", 1.0));
    w.add(Map.of("a", 5.0));
    Map<String, Telemetry.Stat> s = w.summary(100);
    assertThat(s.get("a")).isEqualTo(new Telemetry.Stat(1, 5, 3, 5, 3));
    assertThat(s.get("b")).isEqualTo(new Telemetry.Stat(10, 10, 10, 10, 1));
    w.reset();
    assertThat(w.isEmpty()).isTrue();
  }

  @Test
  void nonFiniteSamplesAreIgnoredAndTheMetricCountIsCapped() {
    Window w = new Window();
    Map<String, Double> sample = new HashMap<>();
    sample.put("nan", Double.NaN);
    sample.put("inf", Double.POSITIVE_INFINITY);
    sample.put("nul", null);
    sample.put("x", 1.0);
    sample.put("y", 2.0);
    w.add(sample);
    assertThat(w.summary(1)).containsOnlyKeys("x");
  }

  @Test
  void valuesKeepSevenSignificantDigits() {
    assertThat(Window.round(89.34010152284264)).isEqualTo(89.34010);
    assertThat(Window.round(1_561_415_680.0)).isEqualTo(1_561_416_000.0);
    assertThat(Window.round(0.000123456789)).isEqualTo(0.0001234568);
    assertThat(Window.round(0)).isZero();
    assertThat(Window.round(-2.5)).isEqualTo(-2.5);
  }
}
