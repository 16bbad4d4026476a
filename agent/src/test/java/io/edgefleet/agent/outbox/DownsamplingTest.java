package io.edgefleet.agent.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.edgefleet.protocol.Telemetry;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DownsamplingTest {
  static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");

  @Test
  void mergingTwoSummariesKeepsExtremesWeightsTheMeanAndTakesTheLaterLastValue() {
    Telemetry.Metrics a =
        new Telemetry.Metrics(
            7,
            T0,
            T0.plusSeconds(60),
            Map.of(
                "cpu", new Telemetry.Stat(10, 50, 20, 30, 12),
                "only.a", new Telemetry.Stat(1, 1, 1, 1, 1)));
    Telemetry.Metrics b =
        new Telemetry.Metrics(
            9,
            T0.plusSeconds(60),
            T0.plusSeconds(120),
            Map.of(
                "cpu", new Telemetry.Stat(5, 40, 35, 6, 4),
                "only.b", new Telemetry.Stat(2, 2, 2, 2, 2)));

    Telemetry.Metrics m = Downsampling.merge(b, a);

    assertThat(m.seq()).isEqualTo(9);
    assertThat(m.from()).isEqualTo(T0);
    assertThat(m.at()).isEqualTo(T0.plusSeconds(120));
    Telemetry.Stat cpu = m.metrics().get("cpu");
    assertThat(cpu.min()).isEqualTo(5);
    assertThat(cpu.max()).isEqualTo(50);
    assertThat(cpu.mean()).isCloseTo((20.0 * 12 + 35.0 * 4) / 16, within(1e-9));
    assertThat(cpu.last()).isEqualTo(6);
    assertThat(cpu.count()).isEqualTo(16);
    assertThat(m.metrics()).containsKeys("only.a", "only.b");
  }

  @Test
  void halvingMergesNeighboursAndKeepsAnOddOneOut() {
    List<Telemetry.Metrics> five =
        java.util.stream.IntStream.range(0, 5)
            .mapToObj(
                i ->
                    new Telemetry.Metrics(
                        i + 1,
                        T0.plusSeconds(60L * i),
                        T0.plusSeconds(60L * (i + 1)),
                        Map.of("x", new Telemetry.Stat(i, i, i, i, 1))))
            .toList();
    List<Telemetry.Metrics> h = Downsampling.halve(five);
    assertThat(h).extracting(Telemetry::seq).containsExactly(2L, 4L, 5L);
    assertThat(h.get(0).metrics().get("x").mean()).isEqualTo(0.5);
    assertThat(h.get(2)).isEqualTo(five.get(4));
  }

  @Test
  void aMergeWithAPartialWindowIsPartial() {
    Map<String, Telemetry.Stat> x = Map.of("x", new Telemetry.Stat(1, 1, 1, 1, 1));
    Telemetry.Metrics whole = new Telemetry.Metrics(1, T0, T0.plusSeconds(60), x);
    Telemetry.Metrics cut =
        new Telemetry.Metrics(2, T0.plusSeconds(60), T0.plusSeconds(70), x, true);
    Telemetry.Metrics after = new Telemetry.Metrics(3, T0.plusSeconds(90), T0.plusSeconds(150), x);
    assertThat(Downsampling.merge(whole, cut).partial()).isTrue();
    assertThat(Downsampling.merge(cut, after).partial()).isTrue();
    assertThat(Downsampling.merge(whole, after).partial()).isFalse();
  }
}
