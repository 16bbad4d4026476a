package io.edgefleet.controller.secrets;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SecretInputTest {

  private static ErrorCode code(Runnable r) {
    try {
      r.run();
    } catch (ControllerException e) {
      return e.code();
    }
    throw new AssertionError("accepted");
  }

  @Test
  void namesAreKubernetesSecretNames() {
    assertThat(SecretInput.name("db-password.v1")).isEqualTo("db-password.v1");
    for (String bad : new String[] {"", "Db", "-db", "db-", "db_pw", "a..b", "x".repeat(254)}) {
      assertThat(code(() -> SecretInput.name(bad))).as(bad).isEqualTo(ErrorCode.VALIDATION_FAILED);
    }
    assertThat(code(() -> SecretInput.name(null))).isEqualTo(ErrorCode.VALIDATION_FAILED);
  }

  @Test
  void namespacesAreDnsLabelsDefaultingToDefault() {
    assertThat(SecretInput.namespace(null)).isEqualTo("default");
    assertThat(SecretInput.namespace("")).isEqualTo("default");
    assertThat(SecretInput.namespace("shop-1")).isEqualTo("shop-1");
    for (String bad : new String[] {"a.b", "Shop", "x".repeat(64)}) {
      assertThat(code(() -> SecretInput.namespace(bad))).isEqualTo(ErrorCode.VALIDATION_FAILED);
    }
  }

  @Test
  void valuesComeFromBase64DataAndTextStringData() {
    Map<String, byte[]> v =
        SecretInput.values(
            Map.of("tls.crt", Base64.getEncoder().encodeToString(new byte[] {0, 1, 2})),
            Map.of("password", "héllo"));
    assertThat(v).containsOnlyKeys("password", "tls.crt");
    assertThat(v.get("tls.crt")).containsExactly(0, 1, 2);
    assertThat(new String(v.get("password"), java.nio.charset.StandardCharsets.UTF_8))
        .isEqualTo("héllo");
  }

  @Test
  void refusesBadKeysDuplicatesEmptinessAndSize() {
    assertThat(code(() -> SecretInput.values(Map.of("a", "%%"), null)))
        .isEqualTo(ErrorCode.VALIDATION_FAILED);
    assertThat(code(() -> SecretInput.values(null, Map.of("a/b", "x"))))
        .isEqualTo(ErrorCode.VALIDATION_FAILED);
    assertThat(code(() -> SecretInput.values(null, Map.of("..", "x"))))
        .isEqualTo(ErrorCode.VALIDATION_FAILED);
    assertThat(code(() -> SecretInput.values(Map.of("a", "eA=="), Map.of("a", "x"))))
        .isEqualTo(ErrorCode.VALIDATION_FAILED);
    assertThat(code(() -> SecretInput.values(null, null))).isEqualTo(ErrorCode.VALIDATION_FAILED);
    assertThat(code(() -> SecretInput.values(null, Map.of("a", "x".repeat(64 * 1024)))))
        .isEqualTo(ErrorCode.SECRET_TOO_LARGE);
    Map<String, String> many = new HashMap<>();
    for (int i = 0; i <= SecretInput.MAX_KEYS; i++) {
      many.put("k" + i, "v");
    }
    assertThat(code(() -> SecretInput.values(null, many))).isEqualTo(ErrorCode.SECRET_TOO_LARGE);
    // Exactly at the limit is fine.
    assertThat(SecretInput.values(null, Map.of("a", "x".repeat(64 * 1024 - 1)))).hasSize(1);
  }
}
