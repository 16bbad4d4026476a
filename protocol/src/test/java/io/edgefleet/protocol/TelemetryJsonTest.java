package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TelemetryJsonTest {
  static final Instant T = Instant.parse("2026-11-21T10:05:00Z");

  @Test
  void aWholeWindowIsWrittenAsOlderAgentsWriteItAndAPartialOneSaysSo() throws Exception {
    Map<String, Telemetry.Stat> m = Map.of("load.1", new Telemetry.Stat(1, 2, 1.5, 2, 60));
    String whole = Json.write(new Telemetry.Metrics(4, T.minusSeconds(300), T, m));
    assertThat(whole).doesNotContain("partial");
    String partial = Json.write(new Telemetry.Metrics(5, T, T.plusSeconds(97), m, true));
    assertThat(partial).contains("\"partial\":true");
    assertThat(Json.mapper().readValue(partial, Telemetry.class))
        .isEqualTo(new Telemetry.Metrics(5, T, T.plusSeconds(97), m, true));
    // As an older agent sends it: no partial field.
    Telemetry old =
        Json.mapper()
            .readValue(
                "{\"k\":\"m\",\"seq\":4,\"from\":\"2026-11-21T10:00:00Z\",\"at\":\"2026-11-21T10:05:00Z\","
                    + "\"metrics\":{\"load.1\":{\"min\":1,\"max\":2,\"mean\":1.5,\"last\":2,\"count\":60}}}",
                Telemetry.class);
    assertThat(old).isEqualTo(new Telemetry.Metrics(4, T.minusSeconds(300), T, m));
  }

  @Test
  void aWelcomeListsTheTelemetryEncodingsAndOneFromAnOlderControllerListsNone() throws Exception {
    ControllerMessage.Welcome w =
        (ControllerMessage.Welcome)
            Json.mapper()
                .readValue(
                    "{\"t\":\"welcome\",\"deviceId\":\"dev-1\",\"heartbeatSeconds\":60,"
                        + "\"generation\":3,\"telemetrySeconds\":300}",
                    ControllerMessage.class);
    assertThat(w.telemetryEncodings()).isEmpty();
    ControllerMessage.Welcome now =
        new ControllerMessage.Welcome(
            "dev-1", 60, 3, 300, false, List.of(CompactTelemetry.ENCODING));
    String json = Json.write(now);
    assertThat(json).contains("\"telemetryEncodings\":[\"c1\"]");
    assertThat(Json.mapper().readValue(json, ControllerMessage.class)).isEqualTo(now);
  }
}
