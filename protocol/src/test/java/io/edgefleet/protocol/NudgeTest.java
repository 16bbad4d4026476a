package io.edgefleet.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NudgeTest {
  static final byte[] YAML = "kind: ConfigMap\n".repeat(50).getBytes(StandardCharsets.UTF_8);
  static final String PACKED = Base64.getEncoder().encodeToString(Gzip.deflate(YAML));

  @Test
  void anInlineBundleIsUnpackedAndAnythingElseIsLeftToFetch() {
    Map<String, String> bundles =
        Map.of("sha256:a", PACKED, "sha256:b", "not base64!", "sha256:c", "aGVsbG8=");
    assertThat(ControllerMessage.Nudge.inlineBundle(bundles, "sha256:a", 1 << 20)).isEqualTo(YAML);
    assertThat(ControllerMessage.Nudge.inlineBundle(bundles, "sha256:x", 1 << 20)).isNull();
    assertThat(ControllerMessage.Nudge.inlineBundle(bundles, "sha256:b", 1 << 20)).isNull();
    assertThat(ControllerMessage.Nudge.inlineBundle(bundles, "sha256:c", 1 << 20))
        .as("base64, but not gzip")
        .isNull();
    assertThat(ControllerMessage.Nudge.inlineBundle(bundles, "sha256:a", 100))
        .as("larger than the device takes")
        .isNull();
  }

  @Test
  void aPlainNudgeHasNoDocumentAndWritesNoBundles() throws Exception {
    String json = Json.write(new ControllerMessage.Nudge(7));
    assertThat(json).isEqualTo("{\"t\":\"nudge\",\"generation\":7}");
    ControllerMessage.Nudge back =
        (ControllerMessage.Nudge) Json.mapper().readValue(json, ControllerMessage.class);
    assertThat(back.desired()).isNull();
    assertThat(back.bundles()).isEmpty();
  }
}
