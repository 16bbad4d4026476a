package io.edgefleet.e2e.sso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.sso.OidcOptions;
import io.edgefleet.controller.sso.OidcOptions.GroupRole;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.AdminClient.Answer;
import io.edgefleet.testkit.MovableClock;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Single sign-on end to end against a real OpenID Connect provider (Spring Authorization Server in
 * a child JVM): the console's code flow with PKCE driven through the provider's login form, the
 * CLI's device code flow approved at the provider's pages, group-to-role mapping with a project,
 * and the refusals (no mapped group, another client's token, an expired token) and a key rotation.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SsoIT {
  @TempDir static Path dir;
  final MovableClock clock = MovableClock.startingAt(Instant.now());
  OidcTestProvider provider;
  TestController c;
  TestAgents agents;
  String euDevice;
  String usDevice;
  int confidentialPort;

  /** The controller's configuration: SQLite here, PostgreSQL in a subclass. */
  ControllerConfig config(Path dataDir) {
    return TestController.config(dataDir);
  }

  @BeforeAll
  void start() {
    int controllerPort = OidcTestProvider.freePort();
    int providerPort = OidcTestProvider.freePort();
    confidentialPort = OidcTestProvider.freePort();
    String controllerUrl = "https://127.0.0.1:" + controllerPort;
    String issuer = "http://127.0.0.1:" + providerPort;
    ControllerConfig config =
        config(dir.resolve("controller"))
            .withListen("127.0.0.1", controllerPort)
            .withAdvertiseUrl(controllerUrl)
            .withOidc(
                Optional.of(
                    OidcOptions.of(
                            issuer,
                            "edgefleet",
                            Optional.empty(),
                            List.of(
                                GroupRole.parse("ops=operator"),
                                GroupRole.parse("eu-staff=viewer@stores-eu"),
                                GroupRole.parse("ghosts=viewer@no-such-project")))
                        .withTokenLifetime(Duration.ofHours(1))));
    c = TestController.start(config, clock);
    provider =
        OidcTestProvider.start(
            dir,
            providerPort,
            List.of(
                new OidcTestProvider.User("alice", "alice-pw", List.of("ops", "staff")),
                new OidcTestProvider.User("erin", "erin-pw", List.of("eu-staff")),
                new OidcTestProvider.User("nora", "nora-pw", List.of("marketing", "ghosts"))),
            List.of(
                new OidcTestProvider.Client(
                    "edgefleet", controllerUrl + "/api/v1/auth/oidc/callback"),
                new OidcTestProvider.Client("other-app", ""),
                new OidcTestProvider.Client(
                    "confidential!s3cret-value",
                    "https://127.0.0.1:" + confidentialPort + "/api/v1/auth/oidc/callback")));
    agents = new TestAgents(dir.resolve("agents"));
    euDevice = enroll("eu-1", "eu");
    usDevice = enroll("us-1", "us");
    Answer project =
        c.admin().post("/api/v1/projects", Map.of("name", "stores-eu", "selector", "region=eu"));
    assertThat(project.status()).as(project.body().toString()).isEqualTo(201);
  }

  @AfterAll
  void stop() {
    if (agents != null) {
      agents.close();
    }
    if (c != null) {
      c.close();
    }
    if (provider != null) {
      provider.close();
    }
  }

  @Test
  @Order(1)
  void theConsoleSignsInWithTheCodeFlowAndPkce() {
    Browser browser = new Browser(c.caFingerprint());
    URI login = URI.create(c.url() + "/api/v1/auth/oidc/login");
    Browser.Page end = browser.signIn(login, "alice", "alice-pw", u -> u.getRawFragment() != null);
    // The controller sent the browser to the provider with a state, a nonce and an S256 challenge.
    URI authorize = browser.visited.get(1);
    Map<String, String> q = Browser.params(authorize.getRawQuery());
    assertThat(authorize.toString()).startsWith(provider.issuer() + "/oauth2/authorize");
    assertThat(q)
        .containsEntry("response_type", "code")
        .containsEntry("client_id", "edgefleet")
        .containsEntry("code_challenge_method", "S256")
        .containsKeys("state", "nonce", "code_challenge")
        .doesNotContainKey("code_verifier");
    // The provider's form login was used, then the callback came back with a code.
    assertThat(browser.visited).anyMatch(u -> u.getPath().equals("/login"));
    URI callback =
        browser.visited.stream()
            .filter(u -> u.getPath().equals("/api/v1/auth/oidc/callback"))
            .findFirst()
            .orElseThrow();
    assertThat(Browser.params(callback.getRawQuery())).containsKey("code");

    // The token is handed to the console in the fragment, never in a query string.
    String location = end.location().orElseThrow();
    assertThat(location).startsWith("/#token=");
    Map<String, String> fragment = Browser.params(location.substring(2));
    String token = fragment.get("token");
    assertThat(fragment).containsEntry("user", "alice@example.test");
    try (AdminClient alice = new AdminClient(c.url(), token, c.caFingerprint())) {
      Answer me = alice.get("/api/v1/whoami");
      assertThat(me.status()).as(me.body().toString()).isEqualTo(200);
      assertThat(me.body().path("name").asText()).isEqualTo("alice@example.test");
      assertThat(me.body().path("roles").toString()).isEqualTo("[\"operator\"]");
      // A short-lived token: an hour as configured.
      Instant expires = Instant.parse(me.body().path("token").path("expiresAt").asText());
      assertThat(expires)
          .isBetween(clock.instant().plusSeconds(3500), clock.instant().plusSeconds(3700));
      assertThat(ids(alice.get("/api/v1/devices"))).containsExactlyInAnyOrder(euDevice, usDevice);
      assertThat(alice.post("/api/v1/users", Map.of("name", "mallory")).status()).isEqualTo(403);
    }

    // The same callback again (a replayed code and state) is refused: the state was used up.
    Browser.Page replay = browser.get(callback);
    assertThat(replay.status()).isEqualTo(302);
    assertThat(Browser.params(replay.location().orElseThrow().substring(2)))
        .containsEntry("sso_error", "SSO_LOGIN_FAILED");

    // The sign-in is in the audit log, with the groups and the roles given.
    JsonNode audit = c.admin().get("/api/v1/audit?limit=1000").body();
    JsonNode entry = find(audit, "user.sign-in", "alice@example.test");
    assertThat(entry).as(audit.toString()).isNotNull();
    assertThat(entry.path("detail").asText())
        .contains("\"flow\":\"code\"")
        .contains("\"ops\"")
        .contains("operator");
  }

  @Test
  @Order(2)
  void theCliSignsInWithTheDeviceCodeAndAProjectGroupSeesOnlyItsProject() throws Exception {
    Path config = dir.resolve("cli-config.json");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CompletableFuture<Integer> cli =
        CompletableFuture.supplyAsync(
            () ->
                cli(
                    out,
                    err,
                    "login",
                    "--sso",
                    "--server",
                    c.url(),
                    "--ca-fingerprint",
                    c.caFingerprint(),
                    "--config",
                    config.toString()));
    // The CLI shows where to go and which code to enter.
    await("the CLI shows the code")
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              if (cli.isDone()) {
                throw new AssertionError("the CLI ended early: " + out + "\n" + err);
              }
              return err.toString().contains("(or open ");
            });
    String shown = err.toString();
    String complete =
        shown.substring(
            shown.indexOf("(or open ") + 9, shown.indexOf(")", shown.indexOf("(or open ")));
    assertThat(shown).contains("and enter the code ");
    assertThat(complete).startsWith(provider.issuer() + "/oauth2/device_verification?user_code=");

    // The person approves the code at the provider's pages (login, consent).
    Browser browser = new Browser(c.caFingerprint());
    Browser.Page approved =
        browser.signIn(
            URI.create(complete),
            "erin",
            "erin-pw",
            u -> u.getQuery() != null && u.getQuery().contains("success"));
    assertThat(approved.location().orElseThrow()).contains("success");

    int exit = cli.get(2, TimeUnit.MINUTES);
    assertThat(exit).as(out + "\n" + err).isZero();
    assertThat(out.toString()).contains("as erin@example.test");
    JsonNode stored = Json.mapper().readTree(Files.readString(config));
    String token = stored.path("token").asText();
    assertThat(token).startsWith("eft");

    // The group maps to viewer within stores-eu: the EU device only, the other answers 404.
    try (AdminClient erin = new AdminClient(c.url(), token, c.caFingerprint())) {
      Answer me = erin.get("/api/v1/whoami");
      assertThat(me.body().path("roles").size()).isZero();
      assertThat(me.body().path("projects").path("stores-eu").toString()).isEqualTo("[\"viewer\"]");
      assertThat(ids(erin.get("/api/v1/devices"))).containsExactly(euDevice);
      assertThat(erin.get("/api/v1/devices/" + euDevice).status()).isEqualTo(200);
      assertThat(erin.get("/api/v1/devices/" + usDevice).status()).isEqualTo(404);
    }
    JsonNode audit = c.admin().get("/api/v1/audit?limit=1000").body();
    assertThat(find(audit, "user.sign-in", "erin@example.test").path("detail").asText())
        .contains("\"flow\":\"device\"");
  }

  @Test
  @Order(3)
  void aPersonWithNoMappedGroupIsRefusedAndNoUserIsMade() {
    Browser browser = new Browser(c.caFingerprint());
    Browser.Page end =
        browser.signIn(
            URI.create(c.url() + "/api/v1/auth/oidc/login"),
            "nora",
            "nora-pw",
            u -> u.getRawFragment() != null);
    Map<String, String> fragment = Browser.params(end.location().orElseThrow().substring(2));
    assertThat(fragment).containsEntry("sso_error", "SSO_NO_ROLE").doesNotContainKey("token");
    assertThat(fragment.get("message"))
        .contains("nora@example.test")
        .contains("marketing")
        .contains("ghosts=viewer@no-such-project")
        .contains("--oidc-group-role");
    assertThat(c.admin().get("/api/v1/users/nora@example.test").status()).isEqualTo(404);
    JsonNode audit = c.admin().get("/api/v1/audit?limit=1000").body();
    assertThat(find(audit, "user.sign-in-refused", "nora@example.test")).isNotNull();

    // The same through the CLI's exchange: a clear code, no token.
    Answer refused = exchange(deviceIdToken("other-app", "nora", "nora-pw"));
    assertThat(refused.code()).isEqualTo("SSO_TOKEN_INVALID");
    Answer noRole = exchange(deviceIdToken("edgefleet", "nora", "nora-pw"));
    assertThat(noRole.status()).isEqualTo(403);
    assertThat(noRole.code()).isEqualTo("SSO_NO_ROLE");
  }

  @Test
  @Order(4)
  void rolesFollowTheGroupsAtEachSignIn() {
    Answer first = exchange(deviceIdToken("edgefleet", "alice", "alice-pw"));
    assertThat(first.status()).as(first.body().toString()).isEqualTo(200);
    assertThat(first.body().path("roles").toString()).isEqualTo("[\"operator\"]");
    // An administrator gives alice more by hand; the next sign-in sets the roles from the groups
    // again.
    assertThat(
            c.admin()
                .put("/api/v1/users/alice@example.test/roles", Map.of("roles", List.of("admin")))
                .status())
        .isEqualTo(200);
    Answer again = exchange(deviceIdToken("edgefleet", "alice", "alice-pw"));
    assertThat(again.body().path("roles").toString()).isEqualTo("[\"operator\"]");
    assertThat(again.body().path("user").asText()).isEqualTo("alice@example.test");
    // One user, however many sign-ins.
    long alices = 0;
    for (JsonNode u : c.admin().get("/api/v1/users").body().path("items")) {
      if (u.path("name").asText().startsWith("alice")) {
        alices++;
      }
    }
    assertThat(alices).isEqualTo(1);
  }

  @Test
  @Order(5)
  void anotherClientsTokenARotatedKeyAndAnExpiredTokenAreHandled() {
    // A token the provider issued to another client: refused for its audience.
    Answer wrongAudience = exchange(deviceIdToken("other-app", "alice", "alice-pw"));
    assertThat(wrongAudience.status()).isEqualTo(401);
    assertThat(wrongAudience.code()).isEqualTo("SSO_TOKEN_INVALID");
    assertThat(wrongAudience.body().path("message").asText()).startsWith("audience:");

    // A tampered token: refused for its signature.
    String good = deviceIdToken("edgefleet", "alice", "alice-pw");
    String[] parts = good.split("\\.");
    String tampered =
        parts[0]
            + "."
            + parts[1]
            + "."
            + (parts[2].charAt(0) == 'A' ? 'B' : 'A')
            + parts[2].substring(1);
    Answer badSignature = exchange(tampered);
    assertThat(badSignature.code()).isEqualTo("SSO_TOKEN_INVALID");
    assertThat(badSignature.body().path("message").asText()).startsWith("signature:");
    assertThat(exchange(good).status()).isEqualTo(200);

    // The provider rotates its signing key: a token signed with the new key is accepted once the
    // controller fetched the keys again (at most every 10 s, on an unknown key id).
    String kid = provider.rotateKey();
    String rotated = deviceIdToken("edgefleet", "alice", "alice-pw");
    assertThat(header(rotated)).contains(kid);
    clock.advance(Duration.ofSeconds(11));
    Answer afterRotation = exchange(rotated);
    assertThat(afterRotation.status()).as(afterRotation.body().toString()).isEqualTo(200);

    // The same token after its expiry (the provider's ID tokens live 30 minutes; the controller
    // allows a minute of clock skew): refused.
    clock.advance(Duration.ofMinutes(32));
    Answer expired = exchange(rotated);
    assertThat(expired.status()).isEqualTo(401);
    assertThat(expired.code()).isEqualTo("SSO_TOKEN_INVALID");
    assertThat(expired.body().path("message").asText()).startsWith("expired:");
  }

  @Test
  @Order(6)
  void theConfigTellsClientsTheProviderAndBadInputIsRefused() {
    try (AdminClient anonymous = new AdminClient(c.url(), "none", c.caFingerprint())) {
      Answer config = anonymous.get("/api/v1/auth/oidc/config");
      assertThat(config.status()).isEqualTo(200);
      assertThat(config.body().path("issuer").asText()).isEqualTo(provider.issuer());
      assertThat(config.body().path("clientId").asText()).isEqualTo("edgefleet");
      assertThat(config.body().path("deviceAuthorizationEndpoint").asText())
          .isEqualTo(provider.issuer() + "/oauth2/device_authorization");
      Answer garbage = anonymous.post("/api/v1/auth/oidc/token", Map.of("idToken", "not.a.jwt"));
      assertThat(garbage.code()).isEqualTo("SSO_TOKEN_INVALID");
      assertThat(garbage.body().path("message").asText()).startsWith("malformed:");
      Answer none = anonymous.post("/api/v1/auth/oidc/token", Map.of());
      assertThat(none.code()).isEqualTo("SSO_TOKEN_INVALID");
    }
    Browser browser = new Browser(c.caFingerprint());
    Browser.Page forged =
        browser.get(URI.create(c.url() + "/api/v1/auth/oidc/callback?code=x&state=forged"));
    assertThat(forged.location().orElseThrow()).contains("sso_error=SSO_LOGIN_FAILED");

    // Login cross-site request forgery: someone signs in at the provider in their own browser and
    // sends the callback link to another person. The link's state is bound to the first browser
    // by a cookie, so the second browser is not signed in as them.
    Browser attacker = new Browser(c.caFingerprint());
    Browser.Page atCallback =
        attacker.signIn(
            URI.create(c.url() + "/api/v1/auth/oidc/login"),
            "alice",
            "alice-pw",
            u -> u.getPath().equals("/api/v1/auth/oidc/callback"));
    URI link = atCallback.uri().resolve(atCallback.location().orElseThrow());
    Browser victim = new Browser(c.caFingerprint());
    Map<String, String> refused =
        Browser.params(victim.get(link).location().orElseThrow().substring(2));
    assertThat(refused).containsEntry("sso_error", "SSO_LOGIN_FAILED").doesNotContainKey("token");
    assertThat(refused.get("message")).contains("another browser");
  }

  @Test
  @Order(7)
  void aConfidentialClientExchangesTheCodeWithItsSecret() throws Exception {
    Path secret = dir.resolve("client-secret");
    Files.writeString(secret, "s3cret-value\n");
    Map<String, String> signedIn = confidentialSignIn(Files.readString(secret).strip());
    assertThat(signedIn).as(signedIn.toString()).containsKey("token");
    assertThat(signedIn.get("roles")).isEqualTo("[\"viewer\"]");
    // With a wrong secret the provider refuses the code, and the console is told.
    Map<String, String> refused = confidentialSignIn("wrong-secret");
    assertThat(refused).containsEntry("sso_error", "SSO_LOGIN_FAILED").doesNotContainKey("token");
    assertThat(refused.get("message")).contains("invalid_client");
  }

  /** A console sign-in as alice through a controller with the confidential client. */
  private Map<String, String> confidentialSignIn(String clientSecret) {
    String url = "https://127.0.0.1:" + confidentialPort;
    ControllerConfig config =
        TestController.config(dir.resolve("confidential-" + clientSecret))
            .withListen("127.0.0.1", confidentialPort)
            .withAdvertiseUrl(url)
            .withOidc(
                Optional.of(
                    OidcOptions.of(
                        provider.issuer(),
                        "confidential",
                        Optional.of(clientSecret),
                        List.of(GroupRole.parse("staff=viewer")))));
    try (TestController other = TestController.start(config)) {
      Browser browser = new Browser(other.caFingerprint());
      Browser.Page end =
          browser.signIn(
              URI.create(url + "/api/v1/auth/oidc/login"),
              "alice",
              "alice-pw",
              u -> u.getRawFragment() != null);
      Map<String, String> fragment =
          new LinkedHashMap<>(Browser.params(end.location().orElseThrow().substring(2)));
      if (fragment.containsKey("token")) {
        try (AdminClient alice =
            new AdminClient(url, fragment.get("token"), other.caFingerprint())) {
          fragment.put("roles", alice.get("/api/v1/whoami").body().path("roles").toString());
        }
      }
      return fragment;
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  private Answer exchange(String idToken) {
    try (AdminClient anonymous = new AdminClient(c.url(), "none", c.caFingerprint())) {
      return anonymous.post("/api/v1/auth/oidc/token", Map.of("idToken", idToken));
    }
  }

  /** An ID token from the provider's device code flow for this client, approved by this user. */
  private String deviceIdToken(String clientId, String user, String password) {
    HttpClient http = HttpClient.newHttpClient();
    JsonNode device =
        postForm(
            http,
            provider.issuer() + "/oauth2/device_authorization",
            Map.of("client_id", clientId, "scope", "openid profile email"));
    String complete = device.path("verification_uri_complete").asText();
    Browser browser = new Browser(c.caFingerprint());
    browser.signIn(
        URI.create(complete),
        user,
        password,
        u -> u.getQuery() != null && u.getQuery().contains("success"));
    Map<String, String> poll = new LinkedHashMap<>();
    poll.put("grant_type", "urn:ietf:params:oauth:grant-type:device_code");
    poll.put("device_code", device.path("device_code").asText());
    poll.put("client_id", clientId);
    JsonNode token = postForm(http, provider.issuer() + "/oauth2/token", poll);
    assertThat(token.has("id_token")).as(token.toString()).isTrue();
    return token.path("id_token").asText();
  }

  private static JsonNode postForm(HttpClient http, String url, Map<String, String> form) {
    try {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(url))
                  .header("Content-Type", "application/x-www-form-urlencoded")
                  .POST(HttpRequest.BodyPublishers.ofString(Browser.form(form)))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return Json.mapper().readTree(r.body());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static String header(String jwt) {
    return new String(
        java.util.Base64.getUrlDecoder().decode(jwt.substring(0, jwt.indexOf('.'))),
        java.nio.charset.StandardCharsets.UTF_8);
  }

  private static JsonNode find(JsonNode audit, String action, String target) {
    for (JsonNode e : audit.path("items")) {
      if (e.path("action").asText().equals(action) && e.path("target").asText().equals(target)) {
        return e;
      }
    }
    return null;
  }

  private static List<String> ids(Answer list) {
    List<String> out = new ArrayList<>();
    list.body().path("items").forEach(d -> out.add(d.path("id").asText()));
    return out;
  }

  private String enroll(String name, String region) {
    String token = c.token(Map.of("region", region), null, false);
    Path bootstrap = agents.bootstrap(name, c.url(), c.caFingerprint(), token);
    Agent agent = agents.start(agents.options(name, bootstrap));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.status().state() == Agent.State.CONNECTED);
    return agent.status().deviceId().orElseThrow();
  }

  @CommandLine.Command(name = "edgefleet")
  static final class Root {}

  private static int cli(StringWriter out, StringWriter err, String... args) {
    CommandLine root = new CommandLine(new Root());
    CliCommands.commands().forEach(root::addSubcommand);
    root.setOut(new PrintWriter(out, true));
    root.setErr(new PrintWriter(err, true));
    return root.execute(args);
  }
}
