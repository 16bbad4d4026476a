package io.edgefleet.controller.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.health.TestClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConnectionLogTest {
  final TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
  final List<String> lines = new ArrayList<>();
  final ConnectionLog log = new ConnectionLog(lines::add, clock);

  @Test
  void eachDeviceComesAndGoesOnItsOwnLineWithWhy() {
    log.connected("dev-1", "10.0.0.7");
    log.disconnected("dev-1", "the connection broke or timed out");
    assertThat(lines)
        .containsExactly(
            "device dev-1 connected from 10.0.0.7",
            "device dev-1 disconnected: the connection broke or timed out");
  }

  @Test
  void aStormIsSummedUpInsteadOfFloodingTheLog() {
    for (int i = 0; i < 1_000; i++) {
      log.connected("dev-" + i, "10.0.0.7");
    }
    for (int i = 0; i < 300; i++) {
      log.disconnected("dev-" + i, "closed");
    }
    assertThat(lines).hasSize(ConnectionLog.LINES_PER_WINDOW);
    clock.advance(ConnectionLog.WINDOW);
    log.flush();
    assertThat(lines)
        .hasSize(ConnectionLog.LINES_PER_WINDOW + 1)
        .last()
        .isEqualTo(
            "and 980 more devices connected, 300 more disconnected in the last 10 s (not listed"
                + " one by one)");
    // A new window lists devices again.
    log.connected("dev-x", "10.0.0.8");
    assertThat(lines).last().isEqualTo("device dev-x connected from 10.0.0.8");
    clock.advance(Duration.ofMinutes(1));
    log.flush();
    assertThat(lines).last().isEqualTo("device dev-x connected from 10.0.0.8");
  }
}
