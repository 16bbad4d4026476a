package io.edgefleet.controller.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The fixed byte encodings of the audit chain (decision 0034). */
class AuditChainTest {
  @Test
  void canonicalEncodingIsTheDocumentedLayout() {
    byte[] c =
        AuditChain.canonical(
            1, "aud-x", 1_700_000_000_000L, "admin", "device.approve", "dev-1", "{\"why\":\"é\"}");

    // seq, at (8 bytes each), then length-prefixed UTF-8 id, actor, action, target, detail;
    // computed independently of this code.
    assertThat(HexFormat.of().formatHex(c))
        .isEqualTo(
            "0000000000000001"
                + "0000018bcfe56800"
                + "00000005"
                + "6175642d78"
                + "00000005"
                + "61646d696e"
                + "0000000e"
                + "6465766963652e617070726f7665"
                + "00000005"
                + "6465762d31"
                + "0000000c"
                + "7b22776879223a22c3a9227d");
    assertThat(AuditChain.hash(AuditChain.GENESIS, c))
        .isEqualTo("69ca5980820812a34f09c2cb320afe094d1bd250c73b8fc7a2ef7a854354630b");
  }

  @Test
  void fieldBoundariesAndEveryFieldChangeTheHash() {
    String base = hash(1, "aud-a", 5, "ab", "c", "t", "{}");
    assertThat(hash(1, "aud-a", 5, "a", "bc", "t", "{}")).isNotEqualTo(base);
    assertThat(hash(2, "aud-a", 5, "ab", "c", "t", "{}")).isNotEqualTo(base);
    assertThat(hash(1, "aud-b", 5, "ab", "c", "t", "{}")).isNotEqualTo(base);
    assertThat(hash(1, "aud-a", 6, "ab", "c", "t", "{}")).isNotEqualTo(base);
    assertThat(hash(1, "aud-a", 5, "ab", "c", "u", "{}")).isNotEqualTo(base);
    assertThat(hash(1, "aud-a", 5, "ab", "c", "t", "{ }")).isNotEqualTo(base);
    assertThat(hash(1, "aud-a", 5, "ab", "c", "t", "{}")).isEqualTo(base);
    String other = "1".repeat(64);
    assertThat(AuditChain.hash(other, AuditChain.canonical(1, "aud-a", 5, "ab", "c", "t", "{}")))
        .isNotEqualTo(base);
  }

  @Test
  void checkpointBytesAreDomainSeparated() {
    byte[] b = AuditChain.checkpointBytes(7, "ab".repeat(32), 9);
    assertThat(new String(b, 0, 30, StandardCharsets.US_ASCII))
        .isEqualTo("edgefleet-audit-checkpoint-v1\0");
    assertThat(b).hasSize(30 + 16 + 32);
    assertThat(HexFormat.of().formatHex(b, 30, 46))
        .isEqualTo("0000000000000007" + "0000000000000009");
  }

  private static String hash(
      long seq, String id, long at, String actor, String action, String target, String detail) {
    return AuditChain.hash(
        AuditChain.GENESIS, AuditChain.canonical(seq, id, at, actor, action, target, detail));
  }
}
