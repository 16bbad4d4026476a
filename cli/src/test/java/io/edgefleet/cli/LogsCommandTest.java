package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import org.junit.jupiter.api.Test;

class LogsCommandTest {
  private static final JsonNode LINE =
      json(
          "{\"at\":\"2025-06-01T12:00:00.2Z\",\"pod\":\"web-7d9\",\"container\":\"web\","
              + "\"line\":\"GET / 200\"}");

  @Test
  void aLineShowsTimePodContainerAndText() {
    assertThat(LogsCommand.render(LINE, false, true))
        .isEqualTo("2025-06-01T12:00:00.2Z web-7d9/web GET / 200");
  }

  @Test
  void withoutPrefixOnlyTheTextIsShown() {
    assertThat(LogsCommand.render(LINE, false, false)).isEqualTo("GET / 200");
  }

  @Test
  void jsonIsOneObjectPerLine() {
    String ndjson = LogsCommand.render(LINE, true, true);

    assertThat(ndjson).doesNotContain("\n");
    assertThat(json(ndjson)).isEqualTo(LINE);
  }

  @Test
  void aTailOutOfRangeIsAUsageError() {
    Cli.Result r = Cli.run("logs", "d-1", "--app", "web", "--tail", "0", "--server", "https://x");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--tail must be from 1 to 10000, got 0");
  }

  @Test
  void theAppIsRequired() {
    Cli.Result r = Cli.run("logs", "d-1");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Missing required option: '--app=APP'");
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new AssertionError(text, e);
    }
  }
}
