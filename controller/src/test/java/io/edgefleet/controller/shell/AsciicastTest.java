package io.edgefleet.controller.shell;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class AsciicastTest {
  TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));

  static List<JsonNode> lines(ByteArrayOutputStream out) throws Exception {
    List<JsonNode> l = new java.util.ArrayList<>();
    for (String s : out.toString(StandardCharsets.UTF_8).split("\n")) {
      l.add(Json.mapper().readTree(s));
    }
    return l;
  }

  @Test
  void headerOutputAndResizeWithRelativeTimes() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Asciicast cast = new Asciicast(out, clock, 100, 30, "xterm", 1 << 20);
    clock.advance(Duration.ofMillis(1500));
    byte[] euro = "a€b".getBytes(StandardCharsets.UTF_8);
    // The euro sign is split between two chunks: it is written whole with the second.
    cast.output(euro, 0, 2);
    clock.advance(Duration.ofMillis(500));
    cast.output(euro, 2, euro.length - 2);
    cast.resize(120, 40);
    cast.close();
    List<JsonNode> l = lines(out);
    assertThat(l.get(0).get("version").asInt()).isEqualTo(2);
    assertThat(l.get(0).get("width").asInt()).isEqualTo(100);
    assertThat(l.get(0).get("height").asInt()).isEqualTo(30);
    assertThat(l.get(0).get("timestamp").asLong()).isEqualTo(clock.instant().getEpochSecond() - 2);
    assertThat(l.get(1).get(0).asDouble()).isEqualTo(1.5);
    assertThat(l.get(1).get(1).asText()).isEqualTo("o");
    assertThat(l.get(1).get(2).asText()).isEqualTo("a");
    assertThat(l.get(2).get(0).asDouble()).isEqualTo(2.0);
    assertThat(l.get(2).get(2).asText()).isEqualTo("€b");
    assertThat(l.get(3).get(1).asText()).isEqualTo("r");
    assertThat(l.get(3).get(2).asText()).isEqualTo("120x40");
  }

  @Test
  void theRecordingIsBoundedAndSaysWhereItWasCut() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Asciicast cast = new Asciicast(out, clock, 80, 24, null, 4096);
    byte[] chunk = "x".repeat(1000).getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < 20; i++) {
      cast.output(chunk, 0, chunk.length);
    }
    assertThat(cast.truncated()).isTrue();
    assertThat(out.size()).isLessThanOrEqualTo(4096);
    List<JsonNode> l = lines(out);
    assertThat(l.getLast().get(2).asText()).contains("the recording was cut here");
    assertThat(l).hasSize(1 + 3 + 1);
  }
}
