package io.edgefleet.simulator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LinkProfileTest {
  private static final long MS = 1_000_000;

  @Test
  void satelliteSerialisesBytesAtItsBandwidthAndAddsLatency() {
    LinkProfile p =
        new LinkProfile(
            "sat", Duration.ofMillis(600), Duration.ZERO, 250_000, 0, Duration.ZERO, Duration.ZERO);
    LinkProfile.Direction d = new LinkProfile.Direction();
    // 31,250 bytes = 250,000 bits = one second at 250 kbit/s, plus 600 ms latency.
    assertThat(d.schedule(p, 31_250, 0, new SplittableRandom(1))).isEqualTo(1600 * MS);
    // The next message waits for the first to leave the link.
    assertThat(d.schedule(p, 31_250, 0, new SplittableRandom(1))).isEqualTo(2600 * MS);
  }

  @Test
  void jitterNeverReordersDeliveries() {
    LinkProfile p = LinkProfile.CELLULAR;
    LinkProfile.Direction d = new LinkProfile.Direction();
    SplittableRandom r = new SplittableRandom(7);
    long last = 0;
    for (int i = 0; i < 1000; i++) {
      long now = i * 100_000L;
      long at = now + d.schedule(p, 50, now, r);
      assertThat(at).isGreaterThanOrEqualTo(last);
      last = at;
    }
  }

  @Test
  void delayStaysWithinLatencyJitterAndOneRetransmission() {
    SplittableRandom r = new SplittableRandom(3);
    for (int i = 0; i < 10_000; i++) {
      long d = LinkProfile.CELLULAR.delayNanos(r);
      assertThat(d).isBetween(40 * MS, 80 * MS + LinkProfile.RETRANSMIT.toNanos());
    }
    assertThat(LinkProfile.LAN.delayNanos(r)).isEqualTo(MS);
  }

  @Test
  void onlyFlakyLinksAreCut() {
    SplittableRandom r = new SplittableRandom(5);
    assertThat(LinkProfile.CELLULAR.nextCutNanos(r)).isNegative();
    double mean = 0;
    for (int i = 0; i < 20_000; i++) {
      mean += LinkProfile.FLAKY.nextCutNanos(r) / 20_000.0;
    }
    assertThat(mean / Duration.ofMinutes(5).toNanos()).isBetween(0.9, 1.1);
  }

  @Test
  void namesAreKnown() {
    assertThat(LinkProfile.named("Satellite")).isEqualTo(LinkProfile.SATELLITE);
    assertThatThrownBy(() -> LinkProfile.named("dialup"))
        .hasMessageContaining("lan, cellular, satellite, flaky");
  }
}
