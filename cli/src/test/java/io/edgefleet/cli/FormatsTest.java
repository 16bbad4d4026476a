package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class FormatsTest {
  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");

  @Test
  void relativeTimesUseTheLargestFittingUnit() {
    assertThat(Formats.relative(NOW, NOW)).isEqualTo("0s ago");
    assertThat(Formats.relative(NOW.minusSeconds(12), NOW)).isEqualTo("12s ago");
    assertThat(Formats.relative(NOW.minusSeconds(5 * 60), NOW)).isEqualTo("5m ago");
    assertThat(Formats.relative(NOW.minus(Duration.ofHours(30)), NOW)).isEqualTo("30h ago");
    assertThat(Formats.relative(NOW.minus(Duration.ofDays(3)), NOW)).isEqualTo("3d ago");
    assertThat(Formats.relative(NOW.plus(Duration.ofDays(7)), NOW)).isEqualTo("in 7d");
  }

  @Test
  void relativeTimesRoundSoAFreshSevenDayExpiryReadsSevenDays() {
    Instant expires = NOW.plus(Duration.ofDays(7)).minusMillis(1500);

    assertThat(Formats.relative(expires, NOW)).isEqualTo("in 7d");
  }

  @Test
  void instantFieldsAreShownRelativeAndAbsentOnesEmpty() throws Exception {
    JsonNode d =
        Json.mapper().readTree("{\"lastSeen\":\"2025-06-01T11:59:48Z\",\"odd\":\"yesterday\"}");

    assertThat(Formats.relative(d, "lastSeen", NOW)).isEqualTo("12s ago");
    assertThat(Formats.timestamp(d, "lastSeen", NOW)).isEqualTo("2025-06-01T11:59:48Z (12s ago)");
    assertThat(Formats.relative(d, "odd", NOW)).isEqualTo("yesterday");
    assertThat(Formats.relative(d, "missing", NOW)).isEmpty();
  }

  @Test
  void textOfAbsentOrNullFieldsIsEmpty() throws Exception {
    JsonNode d = Json.mapper().readTree("{\"a\":null,\"n\":4,\"o\":{\"x\":1}}");

    assertThat(Formats.text(d, "a")).isEmpty();
    assertThat(Formats.text(d, "missing")).isEmpty();
    assertThat(Formats.text(d, "n")).isEqualTo("4");
    assertThat(Formats.text(d, "o")).isEqualTo("{\"x\":1}");
  }

  @Test
  void bytesInBinaryUnits() {
    assertThat(Formats.bytes(512)).isEqualTo("512 B");
    assertThat(Formats.bytes(1536)).isEqualTo("1.5 KiB");
    assertThat(Formats.bytes(8_000_000_000L)).isEqualTo("7.5 GiB");
  }

  @Test
  void revisionsCommitsAndDigestsShowTwelveHexDigitsInTables() {
    String hex64 = "0123456789abcdef".repeat(4);
    assertThat(Formats.revision(hex64)).isEqualTo("0123456789ab");
    assertThat(Formats.revision(hex64.substring(0, 40))).isEqualTo("0123456789ab");
    assertThat(Formats.revision("sha256:" + hex64)).isEqualTo("sha256:0123456789ab");
    assertThat(Formats.revision("0123456789ab")).isEqualTo("0123456789ab");
    assertThat(Formats.revision("1.4.2")).isEqualTo("1.4.2");
    assertThat(Formats.revision("")).isEmpty();
  }

  @Test
  void fileProblemsSayWhatIsWrongWithoutRepeatingThePath() {
    assertThat(Formats.problem(new java.nio.file.NoSuchFileException("/x/p.yaml")))
        .isEqualTo("no such file");
    assertThat(Formats.problem(new java.nio.file.AccessDeniedException("/x/p.yaml")))
        .isEqualTo("permission denied");
    assertThat(Formats.problem(new java.nio.file.FileSystemException("/x", null, "Is a directory")))
        .isEqualTo("Is a directory");
    assertThat(Formats.problem(new java.io.IOException("disk on fire"))).isEqualTo("disk on fire");
  }
}
