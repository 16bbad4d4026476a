package io.edgefleet.agent.logs;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.AgentMessage.LogLine;
import io.edgefleet.protocol.Json;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LogRingTest {
  private static final Instant T0 = Instant.parse("2025-06-01T12:00:00Z");

  private static LogLine line(String pod, int millis, String text) {
    return new LogLine(T0.plusMillis(millis), pod, "web", text);
  }

  @Test
  void keepsTheNewestLinesWithinTheLineBound() {
    LogRing ring = new LogRing(3, 1024 * 1024);
    for (int i = 1; i <= 5; i++) {
      ring.add(line("p", i, "l" + i));
    }

    assertThat(ring.size()).isEqualTo(3);
    assertThat(ring.tail(10)).extracting(LogLine::line).containsExactly("l3", "l4", "l5");
    assertThat(ring.tail(2)).extracting(LogLine::line).containsExactly("l4", "l5");
  }

  @Test
  void keepsTheNewestLinesWithinTheByteBound() {
    LogRing ring = new LogRing(1000, 4096);
    String text = "z".repeat(1000);
    for (int i = 1; i <= 10; i++) {
      ring.add(line("p", i, i + text));
    }

    assertThat(ring.bytes()).isLessThanOrEqualTo(4096);
    assertThat(ring.size()).isEqualTo(3);
    assertThat(ring.tail(1).getFirst().line()).startsWith("10z");
  }

  @Test
  void skipsLinesNotNewerThanTheLastOfTheirContainer() {
    LogRing ring = new LogRing(100, 1024 * 1024);

    assertThat(ring.add(line("a", 5, "a5"))).isTrue();
    assertThat(ring.add(line("a", 5, "a5 again"))).isFalse();
    assertThat(ring.add(line("a", 4, "a4 late"))).isFalse();
    assertThat(ring.add(line("b", 4, "b4"))).as("another container").isTrue();
    assertThat(ring.lastAt("a", "web")).isEqualTo(T0.plusMillis(5));
    assertThat(ring.lastAt("c", "web")).isEqualTo(Instant.EPOCH);

    ring.retainSources(Set.of("b/web"));
    assertThat(ring.lastAt("a", "web")).isEqualTo(Instant.EPOCH);
    assertThat(ring.size()).as("lines stay").isEqualTo(2);
  }

  @Test
  void aListenerGetsEveryLineAfterTheTailItWasGiven() {
    LogRing ring = new LogRing(100, 1024 * 1024);
    ring.add(line("p", 1, "before"));
    List<String> heard = new ArrayList<>();

    List<LogLine> tail = ring.tail(10, l -> heard.add(l.line()));
    ring.add(line("p", 2, "after"));

    assertThat(tail).extracting(LogLine::line).containsExactly("before");
    assertThat(heard).containsExactly("after");
  }

  @Test
  void sizesBoundTheJsonOfAnyText() {
    String nasty = "\u0001\"\\é€😀".repeat(5000);
    LogLine l = new LogLine(T0, "pod", "c", Sizes.capped(nasty));

    assertThat(Json.writeBytes(l).length).isLessThanOrEqualTo(Sizes.cost(l));
    assertThat(Sizes.cost(l)).isLessThanOrEqualTo(Sizes.MAX_LINE_BYTES + Sizes.LINE_OVERHEAD + 8);
    assertThat(l.line()).endsWith(" …[cut]");
    assertThat(Sizes.capped("short line")).isEqualTo("short line");
  }
}
