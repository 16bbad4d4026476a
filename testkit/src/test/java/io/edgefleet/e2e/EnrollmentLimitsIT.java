package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leaked bootstrap file is not a licence to enroll without end: tokens expire by default, and new
 * enrollments are rate-limited per token and per source address, refusing with a retryable code and
 * storing nothing.
 */
class EnrollmentLimitsIT {
  static final DeviceFacts FACTS =
      new DeviceFacts("h", null, List.of(), "amd64", 2, 1, 1, "Linux", "6", "test", false, false);

  @TempDir Path dir;
  TestController controller;

  @AfterEach
  void stop() {
    controller.close();
  }

  @Test
  void tokensExpireAfterSevenDaysUnlessToldOtherwise() {
    controller = TestController.start(dir.resolve("c"));
    OnboardingTokens.View plain =
        controller.controller().onboarding().create(request(null, null), "test");
    assertThat(plain.expiresAt())
        .isBetween(
            Instant.now().plus(Duration.ofDays(7)).minusSeconds(60),
            Instant.now().plus(Duration.ofDays(7)));
    OnboardingTokens.View forever =
        controller.controller().onboarding().create(request("never", null), "test");
    assertThat(forever.expiresAt()).isNull();
    assertThat(plain.perMinute()).isEqualTo(OnboardingTokens.DEFAULT_PER_MINUTE);
  }

  @Test
  void aTokenEnrollsAtMostItsRateAndTheRefusalStoresNothing() throws Exception {
    controller = TestController.start(dir.resolve("c"));
    String token = controller.controller().onboarding().create(request(null, 3), "test").token();
    AdminClient anonymous = anonymous();
    for (int i = 0; i < 3; i++) {
      assertThat(anonymous.post("/device/v1/enrollments", enroll(token, csr())).status())
          .isEqualTo(200);
    }
    AdminClient.Answer refused = anonymous.post("/device/v1/enrollments", enroll(token, csr()));
    assertThat(refused.status()).isEqualTo(429);
    assertThat(refused.code()).isEqualTo("RATE_LIMITED");
    assertThat(refused.body().path("message").asText())
        .contains("at most 3 a minute")
        .contains("try again in");
    assertThat(controller.admin().get("/api/v1/devices").body().path("items")).hasSize(3);
    assertThat(
            controller
                .admin()
                .get("/api/v1/onboarding-tokens")
                .body()
                .path("items")
                .get(0)
                .path("uses")
                .asInt())
        .isEqualTo(3);
  }

  @Test
  void oneAddressEnrollsAtMostItsRateButKnownKeysStillPoll() throws Exception {
    controller =
        TestController.start(TestController.config(dir.resolve("c")).withEnrollmentsPerAddress(4));
    AdminClient anonymous = anonymous();
    // Wrong tokens count too: guessing costs the guesser.
    assertThat(anonymous.post("/device/v1/enrollments", enroll("efo_guess", csr())).code())
        .isEqualTo("ONBOARDING_TOKEN_INVALID");
    String token = controller.token(Map.of(), null, true);
    String first = csr();
    for (int i = 0; i < 3; i++) {
      assertThat(
              anonymous
                  .post("/device/v1/enrollments", enroll(token, i == 0 ? first : csr()))
                  .status())
          .isEqualTo(200);
    }
    AdminClient.Answer refused = anonymous.post("/device/v1/enrollments", enroll(token, csr()));
    assertThat(refused.code()).isEqualTo("RATE_LIMITED");
    assertThat(refused.body().path("message").asText()).contains("from 127.0.0.1");
    // A pending device asking again for its answer is not a new enrollment.
    for (int i = 0; i < 10; i++) {
      AdminClient.Answer poll = anonymous.post("/device/v1/enrollments", enroll(token, first));
      assertThat(poll.status()).isEqualTo(200);
      assertThat(poll.body().path("status").asText()).isEqualTo("PENDING");
    }
    assertThat(controller.admin().get("/api/v1/devices").body().path("items")).hasSize(3);
  }

  private AdminClient anonymous() {
    return new AdminClient(controller.url(), null, controller.caFingerprint());
  }

  private static OnboardingTokens.CreateRequest request(String expiresIn, Integer perMinute) {
    return new OnboardingTokens.CreateRequest(null, Map.of(), null, expiresIn, false, perMinute);
  }

  private static EnrollmentRequest enroll(String token, String csr) {
    return new EnrollmentRequest(token, null, csr, FACTS);
  }

  private static String csr() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair key = g.generateKeyPair();
    var b = new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=x"), key.getPublic());
    return Pem.encode(
        "CERTIFICATE REQUEST",
        b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate()))
            .getEncoded());
  }
}
