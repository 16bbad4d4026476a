package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
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
  void urlsAnnouncedInADocumentJoinTheFilesWithoutRepeatsOrUnusableOnes() {
    assertThat(
            Bootstrap.union(
                List.of("https://a:1", "https://b:1"),
                List.of("https://b:1/", "http://plain:1", "not a url", "https://c:1")))
        .containsExactly("https://a:1", "https://b:1", "https://c:1");
    List<String> many = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      many.add("https://r" + i + ":1");
    }
    assertThat(Bootstrap.union(List.of("https://a:1"), many)).hasSize(Bootstrap.MAX_URLS);
  }

  @Test
  void aDocumentNamesControllerUrlsOnlyWhenItHasSome() throws Exception {
    DesiredState plain =
        new DesiredState("dev-1", 3, Instant.EPOCH, List.of(), List.of(), List.of(), null, null);
    assertThat(Json.write(plain)).doesNotContain("controllerUrls");
    DesiredState more = plain.withControllerUrls(List.of("https://a:1", "https://b:1"));
    DesiredState back = Json.mapper().readValue(Json.write(more), DesiredState.class);
    assertThat(back.controllerUrls()).containsExactly("https://a:1", "https://b:1");
    assertThat(Json.mapper().readValue(Json.write(plain), DesiredState.class).controllerUrls())
        .isEmpty();
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
