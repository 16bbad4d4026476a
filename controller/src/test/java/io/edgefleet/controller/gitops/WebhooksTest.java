package io.edgefleet.controller.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WebhooksTest {
  private static final byte[] BODY =
      "{\"ref\":\"refs/heads/main\",\"after\":\"abc\"}".getBytes(StandardCharsets.UTF_8);

  @Test
  void githubSignatureIsTheHmacOfTheBody() {
    // The last assertion is the published HMAC-SHA256 test vector.
    String sig = "sha256=" + Webhooks.hmacSha256Hex("s3cret", BODY);
    Webhooks.verify(
        "shop", java.util.Optional.of("s3cret"), Map.of("x-hub-signature-256", sig), BODY);
    Webhooks.verify(
        "shop",
        java.util.Optional.of("s3cret"),
        Map.of("x-hub-signature-256", sig.toUpperCase().replace("SHA256", "sha256")),
        BODY);
    assertThat(
            Webhooks.hmacSha256Hex("key", "The quick brown fox jumps over the lazy dog".getBytes()))
        .isEqualTo("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  }

  @Test
  void wrongOrMissingSecretsAreUnauthenticated() {
    String sig = "sha256=" + Webhooks.hmacSha256Hex("other", BODY);
    assertUnauthenticated(
        () ->
            Webhooks.verify(
                "shop", java.util.Optional.of("s3cret"), Map.of("x-hub-signature-256", sig), BODY));
    assertUnauthenticated(
        () ->
            Webhooks.verify(
                "shop",
                java.util.Optional.of("s3cret"),
                Map.of("x-hub-signature-256", "sha256="),
                BODY));
    assertUnauthenticated(
        () ->
            Webhooks.verify(
                "shop", java.util.Optional.of("s3cret"), Map.of("x-gitlab-token", "s3cre"), BODY));
    assertUnauthenticated(
        () -> Webhooks.verify("shop", java.util.Optional.of("s3cret"), Map.of(), BODY));
    Webhooks.verify(
        "shop", java.util.Optional.of("s3cret"), Map.of("x-gitlab-token", "s3cret"), BODY);
  }

  @Test
  void readsPingsAndRefs() {
    assertThat(Webhooks.event(Map.of("x-github-event", "ping"), BODY).ping()).isTrue();
    assertThat(
            Webhooks.event(Map.of(), "{\"zen\":\"Keep it simple\",\"hook_id\":1}".getBytes())
                .ping())
        .isTrue();
    assertThat(Webhooks.event(Map.of("x-gitlab-event", "Push Hook"), BODY).ref())
        .contains("refs/heads/main");
    assertThat(Webhooks.event(Map.of(), "not json".getBytes()).ref()).isEmpty();
  }

  private static void assertUnauthenticated(Runnable r) {
    assertThatThrownBy(r::run)
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED));
  }
}
