package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BootstrapTest {
  static final String FP = "sha256:" + "0a".repeat(32);

  @Test
  void roundTripsThroughJson() throws Exception {
    Bootstrap b = Bootstrap.of("https://ctl.example:7443/", FP, "efo_x");
    Bootstrap back = Json.mapper().readValue(Json.write(b), Bootstrap.class);
    assertThat(back).isEqualTo(b);
    assertThat(back.baseUrl()).isEqualTo("https://ctl.example:7443");
  }

  @Test
  void blankTokenMeansEnrollmentBySerial() {
    assertThat(Bootstrap.of("https://h:1", FP, " ").token()).isNull();
  }

  @Test
  void refusesUnsafeOrMalformedContent() {
    assertThatThrownBy(() -> Bootstrap.of("http://h:1", FP, "t")).hasMessageContaining("https://");
    assertThatThrownBy(() -> Bootstrap.of("", FP, "t")).hasMessageContaining("controllerUrl");
    assertThatThrownBy(() -> Bootstrap.of("https://h:1", "sha256:ABC", "t"))
        .hasMessageContaining("caFingerprint");
    assertThatThrownBy(() -> new Bootstrap(2, "https://h:1", FP, "t"))
        .hasMessageContaining("version");
  }

  @Test
  void protocolMessagesAreCompactAndTolerateUnknownFields() throws Exception {
    assertThat(Json.write(new AgentMessage.Heartbeat(7))).isEqualTo("{\"t\":\"hb\",\"seq\":7}");
    assertThat(Json.write(new ControllerMessage.Ack())).isEqualTo("{\"t\":\"ack\"}");
    ControllerMessage m =
        Json.mapper()
            .readValue(
                "{\"t\":\"welcome\",\"deviceId\":\"d\",\"heartbeatSeconds\":30,\"new\":1}",
                ControllerMessage.class);
    assertThat(m).isEqualTo(new ControllerMessage.Welcome("d", 30, 0));
  }
}
