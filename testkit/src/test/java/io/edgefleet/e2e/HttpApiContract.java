package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.List;
import java.util.Map;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The REST boundary over real TLS: authentication, stable error codes for bad input, and that a
 * refused request stores nothing. Runs once per database.
 */
abstract class HttpApiContract {
  @TempDir Path dir;
  TestController controller;
  AdminClient admin;
  AdminClient anonymous;

  abstract ControllerConfig config(Path dataDir);

  @BeforeEach
  void start() {
    controller = TestController.start(config(dir.resolve("controller")));
    admin = controller.admin();
    anonymous = new AdminClient(controller.url(), null, controller.caFingerprint());
  }

  @AfterEach
  void stop() {
    anonymous.close();
    controller.close();
  }

  @Test
  void healthIsOpenEverythingUnderApiNeedsAValidToken() {
    assertThat(anonymous.get("/healthz").status()).isEqualTo(200);
    for (String path : List.of("/api/v1/devices", "/api/v1/openapi.json", "/api/v1/info")) {
      AdminClient.Answer none = anonymous.raw("GET", path, null, null, null);
      assertThat(none.status()).as(path).isEqualTo(401);
      assertThat(none.code()).isEqualTo("UNAUTHENTICATED");
      AdminClient.Answer wrong = anonymous.raw("GET", path, null, "efa_wrong", null);
      assertThat(wrong.status()).isEqualTo(401);
      assertThat(wrong.body().path("message").asText()).contains("not valid");
    }
    assertThat(admin.get("/api/v1/openapi.json").body().path("openapi").asText()).startsWith("3.");
  }

  @Test
  void unknownRoutesAndMethodsHaveTheirOwnCodes() {
    AdminClient.Answer unknown = admin.get("/api/v1/nothing-here");
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.code()).isEqualTo("ROUTE_NOT_FOUND");
    AdminClient.Answer method = admin.delete("/api/v1/devices");
    assertThat(method.status()).isEqualTo(405);
    assertThat(method.code()).isEqualTo("METHOD_NOT_ALLOWED");
    AdminClient.Answer missing = admin.get("/api/v1/devices/dev-nope");
    assertThat(missing.status()).isEqualTo(404);
    assertThat(missing.code()).isEqualTo("NOT_FOUND");
  }

  @Test
  void malformedBodiesAreRefusedAndNothingIsStored() {
    byte[] garbage = "{not json".getBytes(StandardCharsets.UTF_8);
    AdminClient.Answer a =
        admin.raw("POST", "/api/v1/onboarding-tokens", garbage, token(), "application/json");
    assertThat(a.status()).isEqualTo(400);
    assertThat(a.code()).isEqualTo("INVALID_JSON");

    AdminClient.Answer wrongType =
        admin.post("/api/v1/onboarding-tokens", Map.of("maxUses", "many"));
    assertThat(wrongType.code()).isEqualTo("VALIDATION_FAILED");
    assertThat(wrongType.body().path("message").asText()).contains("maxUses");

    AdminClient.Answer badTag =
        admin.post("/api/v1/onboarding-tokens", Map.of("tags", Map.of("a b", "c")));
    assertThat(badTag.status()).isEqualTo(422);

    AdminClient.Answer badExpiry =
        admin.post("/api/v1/onboarding-tokens", Map.of("expiresIn", "soon"));
    assertThat(badExpiry.code()).isEqualTo("VALIDATION_FAILED");

    AdminClient.Answer text =
        admin.raw("POST", "/api/v1/onboarding-tokens", "x".getBytes(), token(), "text/plain");
    assertThat(text.code()).isEqualTo("UNSUPPORTED_MEDIA_TYPE");

    assertThat(admin.get("/api/v1/onboarding-tokens").body().path("items")).isEmpty();
  }

  @Test
  void oversizedBodiesAreRefused() {
    byte[] big = new byte[1536 * 1024];
    java.util.Arrays.fill(big, (byte) ' ');
    AdminClient.Answer api =
        admin.raw("POST", "/api/v1/onboarding-tokens", big, token(), "application/json");
    assertThat(api.status()).isEqualTo(413);
    assertThat(api.code()).isEqualTo("BODY_TOO_LARGE");
    // Enrollment takes up to 1.4 MiB: a device with a TPM sends its boot event log.
    AdminClient.Answer device =
        anonymous.raw(
            "POST", "/device/v1/enrollments", new byte[1600 * 1024], null, "application/json");
    assertThat(device.code()).isEqualTo("BODY_TOO_LARGE");
    assertThat(admin.get("/healthz").status()).as("still serving").isEqualTo(200);
  }

  @Test
  void enrollmentWithBadCredentialsOrCsrStoresNothing() throws Exception {
    String token = controller.token(Map.of("site", "a"), 1, false);
    DeviceFacts facts =
        new DeviceFacts("h", null, List.of(), "amd64", 2, 1, 1, "Linux", "6", "test", false, false);

    AdminClient.Answer garbageCsr =
        anonymous.post(
            "/device/v1/enrollments", new EnrollmentRequest(token, null, "garbage", facts));
    assertThat(garbageCsr.status()).isEqualTo(400);
    assertThat(garbageCsr.code()).isEqualTo("INVALID_CSR");

    AdminClient.Answer unknownToken =
        anonymous.post(
            "/device/v1/enrollments", new EnrollmentRequest("efo_nope", null, csr(), facts));
    assertThat(unknownToken.status()).isEqualTo(401);
    assertThat(unknownToken.code()).isEqualTo("ONBOARDING_TOKEN_INVALID");

    AdminClient.Answer noFacts =
        anonymous.post("/device/v1/enrollments", new EnrollmentRequest(token, null, csr(), null));
    assertThat(noFacts.code()).isEqualTo("VALIDATION_FAILED");

    // None of that used the single-use token or created a device.
    assertThat(admin.get("/api/v1/devices").body().path("items")).isEmpty();
    assertThat(
            admin.get("/api/v1/onboarding-tokens").body().path("items").get(0).path("uses").asInt())
        .isZero();

    // The same key asking twice is one device and one use of the token.
    EnrollmentRequest good = new EnrollmentRequest(token, null, csr(), facts);
    AdminClient.Answer first = anonymous.post("/device/v1/enrollments", good);
    AdminClient.Answer again = anonymous.post("/device/v1/enrollments", good);
    assertThat(first.body().path("status").asText()).isEqualTo("APPROVED");
    assertThat(again.body().path("deviceId")).isEqualTo(first.body().path("deviceId"));
    assertThat(admin.get("/api/v1/devices").body().path("items")).hasSize(1);
  }

  @Test
  void badPercentEncodingIsABadRequestNotAnInternalError() {
    for (String path :
        List.of("/healthz?x=%ff", "/api/v1/devices?status=%e2%82", "/api/v1/devices/%ff%fe")) {
      AdminClient.Answer a = admin.raw("GET", path, null, token(), null);
      assertThat(a.status()).as(path).isEqualTo(400);
      assertThat(a.code()).as(path).isEqualTo("BAD_REQUEST");
      assertThat(a.body().path("message").asText()).as(path).contains("%XX");
    }
    AdminClient.Answer enrollment =
        anonymous.raw("POST", "/device/v1/enrollments?x=%ff", "{}".getBytes(), null, null);
    assertThat(enrollment.status()).isEqualTo(400);
    assertThat(enrollment.code()).isEqualTo("BAD_REQUEST");
  }

  @Test
  void pathParametersAreDecodedExactlyOnce() {
    AdminClient.Answer plus = admin.get("/api/v1/devices/a+b");
    assertThat(plus.status()).isEqualTo(404);
    assertThat(plus.body().path("message").asText()).contains("a+b").doesNotContain("a b");
    AdminClient.Answer escaped = admin.get("/api/v1/devices/a%2520b");
    assertThat(escaped.body().path("message").asText()).contains("a%20b");
  }

  @Test
  void routesThatTakeNoBodyRefuseOneUnread() {
    AdminClient.Answer a =
        admin.raw("GET", "/api/v1/devices", new byte[10_000], token(), "application/json");
    assertThat(a.status()).isEqualTo(400);
    assertThat(a.body().path("message").asText()).contains("takes no request body");
    assertThat(admin.get("/healthz").status()).isEqualTo(200);
  }

  @Test
  void everyAnswerCarriesBrowserHardening() throws Exception {
    java.net.http.HttpClient http =
        java.net.http.HttpClient.newBuilder()
            .sslContext(
                io.edgefleet.protocol.tls.TlsContexts.pinned(
                    new io.edgefleet.protocol.tls.PinnedCaTrustManager(controller.caFingerprint())))
            .build();
    for (String path :
        List.of("/healthz", "/api/v1/devices", "/console/approve?code=AB", "/nothing")) {
      java.net.http.HttpResponse<Void> r =
          http.send(
              java.net.http.HttpRequest.newBuilder(java.net.URI.create(controller.url() + path))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.discarding());
      var h = r.headers();
      assertThat(h.firstValue("Strict-Transport-Security"))
          .as(path)
          .hasValueSatisfying(v -> assertThat(v).startsWith("max-age="));
      assertThat(h.firstValue("X-Content-Type-Options")).as(path).contains("nosniff");
      assertThat(h.firstValue("X-Frame-Options")).as(path).contains("DENY");
      assertThat(h.allValues("Content-Security-Policy")).as(path).hasSize(1);
      assertThat(h.firstValue("Content-Security-Policy").orElseThrow())
          .as(path)
          .contains("frame-ancestors 'none'");
    }
  }

  @Test
  void webSocketNeedsADeviceCertificate() {
    AdminClient.Answer a = anonymous.get("/device/v1/connect");
    assertThat(a.status()).isEqualTo(401);
    assertThat(a.code()).isEqualTo("CLIENT_CERTIFICATE_REQUIRED");
  }

  @Test
  void approvalPageIsServedForTheQrLink() {
    var a = anonymous.raw("GET", "/console/approve?code=ABCD-2345", null, null, null);
    assertThat(a.status()).isEqualTo(200);
    assertThat(a.body().asText()).contains("Approve a device").contains("/api/v1/devices/");
  }

  @Test
  void mutationsAreAudited() {
    admin.post("/api/v1/preregistrations", Map.of("serial", "SN-1", "tags", Map.of("site", "x")));
    assertThat(admin.get("/api/v1/audit").body().toString()).contains("preregistration.create");
  }

  @Test
  void theAuditLogIsFilteredAndPagedNewestFirstWithoutLosingOrRepeatingAnEntry() {
    for (int i = 1; i <= 5; i++) {
      admin.post(
          "/api/v1/preregistrations", Map.of("serial", "SN-A" + i, "tags", Map.of("site", "x")));
    }
    admin.post("/api/v1/preregistrations", Map.of("serial", "OTHER", "tags", Map.of("site", "y")));

    List<String> seen = new java.util.ArrayList<>();
    String next = "";
    long previousAt = Long.MAX_VALUE;
    for (int page = 0; page < 5 && next != null; page++) {
      var body =
          admin.get("/api/v1/audit?action=preregistration.&q=sn-a&limit=2&before=" + next).body();
      for (var e : body.path("items")) {
        long at = java.time.Instant.parse(e.path("at").asText()).toEpochMilli();
        assertThat(at).as("newest first").isLessThanOrEqualTo(previousAt);
        previousAt = at;
        seen.add(e.path("target").asText());
      }
      next = body.path("next").isNull() ? null : body.path("next").asText(null);
    }
    assertThat(seen).containsExactlyInAnyOrder("SN-A1", "SN-A2", "SN-A3", "SN-A4", "SN-A5");
    assertThat(next).as("the last page says there is no more").isNull();

    assertThat(admin.get("/api/v1/audit?target=OTHER").body().path("items")).hasSize(1);
    assertThat(admin.get("/api/v1/audit?q=SN-A3").body().path("items")).hasSize(1);
    // LIKE's wildcards are matched literally.
    assertThat(admin.get("/api/v1/audit?q=%25").body().path("items")).isEmpty();
    assertThat(admin.get("/api/v1/audit?q=SN_A").body().path("items")).isEmpty();
    assertThat(admin.get("/api/v1/audit?actor=nobody").body().path("items")).isEmpty();

    AdminClient.Answer badCursor = admin.get("/api/v1/audit?before=yesterday");
    assertThat(badCursor.status()).isEqualTo(422);
    assertThat(badCursor.code()).isEqualTo("VALIDATION_FAILED");
    assertThat(badCursor.body().path("message").asText()).contains("next");
    AdminClient.Answer longFilter = admin.get("/api/v1/audit?q=" + "x".repeat(201));
    assertThat(longFilter.status()).isEqualTo(422);
  }

  private String token() {
    return controller.controller().adminToken().orElseThrow();
  }

  private String csrPem;

  private String csr() throws Exception {
    if (csrPem == null) {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair key = g.generateKeyPair();
      var b = new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=x"), key.getPublic());
      csrPem =
          Pem.encode(
              "CERTIFICATE REQUEST",
              b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate()))
                  .getEncoded());
    }
    return csrPem;
  }
}
