package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SessionsPlayTest {
  @Test
  void outputEventsArePrintedAndOthersAreNot() {
    SessionsPlay.Player p = new SessionsPlay.Player(1, 2, true);
    assertThat(p.line("{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1}")).isNull();
    assertThat(p.line("[0.5,\"o\",\"hello\\r\\n\"]")).isEqualTo("hello\r\n");
    assertThat(p.line("[0.6,\"r\",\"100x30\"]")).isNull();
    assertThat(p.truncated).isFalse();
    p.line("[0.7,\"o\",\"[edgefleet: the recording was cut here: it reached 5 bytes]\"]");
    assertThat(p.truncated).isTrue();
  }

  @Test
  void playingKeepsTheTimingScaledBySpeedWithLongPausesShortened() {
    SessionsPlay.Player p = new SessionsPlay.Player(10, 0.5, false);
    p.line("{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1}");
    long start = System.nanoTime();
    p.line("[1.0,\"o\",\"a\"]"); // 1 s capped to 0.5 s, at speed 10: 50 ms
    p.line("[1.2,\"o\",\"b\"]"); // +0.2 s at speed 10: 20 ms
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;
    assertThat(elapsedMs).isGreaterThanOrEqualTo(70).isLessThan(2000);
  }

  @Test
  void somethingElseThanAsciicastIsRefused() {
    SessionsPlay.Player p = new SessionsPlay.Player(1, 2, true);
    assertThatThrownBy(() -> p.line("{\"version\":1}"))
        .isInstanceOf(CliException.class)
        .hasMessageContaining("asciicast v2");
  }
}
