package io.edgefleet.controller.sso;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ID token checks against a provider served from this test (discovery and keys over HTTP), with
 * tokens signed here: every reason a token is refused, and the bounded key refresh.
 */
class IdTokensTest {
  HttpServer server;
  String issuer;
  final AtomicReference<JWKSet> published = new AtomicReference<>();
  RSAKey key;
  final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-06-01T12:00:00Z"));
  final Clock clock =
      new Clock() {
        @Override
        public java.time.ZoneId getZone() {
          return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
          return this;
        }

        @Override
        public Instant instant() {
          return now.get();
        }
      };
  OidcProvider provider;
  IdTokens tokens;

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    issuer = "http://127.0.0.1:" + server.getAddress().getPort() + "/realm";
    server.createContext(
        "/realm/.well-known/openid-configuration",
        x -> {
          byte[] b =
              ("{\"issuer\":\""
                      + issuer
                      + "\",\"authorization_endpoint\":\""
                      + issuer
                      + "/auth\",\"token_endpoint\":\""
                      + issuer
                      + "/token\",\"jwks_uri\":\""
                      + issuer
                      + "/keys\"}")
                  .getBytes(StandardCharsets.UTF_8);
          x.sendResponseHeaders(200, b.length);
          x.getResponseBody().write(b);
          x.close();
        });
    server.createContext(
        "/realm/keys",
        x -> {
          byte[] b = published.get().toString(true).getBytes(StandardCharsets.UTF_8);
          x.sendResponseHeaders(200, b.length);
          x.getResponseBody().write(b);
          x.close();
        });
    server.start();
    key = new RSAKeyGenerator(2048).keyID("k1").generate();
    published.set(new JWKSet(key));
    OidcOptions options = OidcOptions.of(issuer, "edgefleet", Optional.empty(), List.of());
    provider = new OidcProvider(options.issuer(), HttpClient.newHttpClient(), clock);
    tokens = new IdTokens(provider, options, clock);
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private String token(RSAKey signer, Consumer<JWTClaimsSet.Builder> change) throws Exception {
    JWTClaimsSet.Builder claims =
        new JWTClaimsSet.Builder()
            .issuer(issuer)
            .subject("u-1")
            .audience("edgefleet")
            .issueTime(Date.from(now.get()))
            .expirationTime(Date.from(now.get().plusSeconds(300)))
            .claim("email", "ana@example.test")
            .claim("groups", List.of("ops", "eu"))
            .claim("nonce", "n-1");
    change.accept(claims);
    SignedJWT jwt =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(signer.getKeyID()).build(),
            claims.build());
    jwt.sign(new RSASSASigner(signer));
    return jwt.serialize();
  }

  private String reason(String token, Optional<String> nonce) {
    try {
      tokens.check(token, nonce);
    } catch (ControllerException e) {
      assertThat(e.code()).isEqualTo(ErrorCode.SSO_TOKEN_INVALID);
      return e.getMessage().substring(0, e.getMessage().indexOf(':'));
    }
    throw new AssertionError("the token was accepted");
  }

  @Test
  void aValidTokenGivesTheIdentityAndGroups() throws Exception {
    IdTokens.Identity id = tokens.check(token(key, c -> {}), Optional.of("n-1"));
    assertThat(id.subject()).isEqualTo("u-1");
    assertThat(id.email()).contains("ana@example.test");
    assertThat(id.groups()).containsExactly("ops", "eu");
  }

  @Test
  void everyBadTokenIsRefusedWithItsReason() throws Exception {
    assertThat(reason(token(key, c -> c.issuer("https://evil.example")), Optional.empty()))
        .isEqualTo("issuer");
    assertThat(reason(token(key, c -> c.audience("other")), Optional.empty()))
        .isEqualTo("audience");
    assertThat(
            reason(
                token(key, c -> c.audience(List.of("edgefleet", "other")).claim("azp", "other")),
                Optional.empty()))
        .isEqualTo("audience");
    assertThat(
            reason(
                token(key, c -> c.expirationTime(Date.from(now.get().minusSeconds(61)))),
                Optional.empty()))
        .isEqualTo("expired");
    // Within the minute of clock skew: accepted.
    tokens.check(
        token(key, c -> c.expirationTime(Date.from(now.get().minusSeconds(59)))), Optional.empty());
    assertThat(
            reason(
                token(key, c -> c.notBeforeTime(Date.from(now.get().plusSeconds(120)))),
                Optional.empty()))
        .isEqualTo("not-yet-valid");
    assertThat(reason(token(key, c -> {}), Optional.of("another-nonce"))).isEqualTo("nonce");
    assertThat(reason(token(key, c -> c.subject(null)), Optional.empty())).isEqualTo("subject");
    // Signed by a key with the same id that the provider does not hold.
    RSAKey impostor = new RSAKeyGenerator(2048).keyID("k1").generate();
    assertThat(reason(token(impostor, c -> {}), Optional.empty())).isEqualTo("signature");
    // No signature, or a shared-secret one: refused whatever the claims say.
    String plain = new PlainJWT(new JWTClaimsSet.Builder().issuer(issuer).build()).serialize();
    assertThat(reason(plain, Optional.empty())).isEqualTo("malformed");
    SignedJWT hmac =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("k1").build(),
            new JWTClaimsSet.Builder().issuer(issuer).audience("edgefleet").build());
    hmac.sign(new MACSigner(new byte[32]));
    assertThat(reason(hmac.serialize(), Optional.empty())).isEqualTo("algorithm");
    assertThat(reason("x".repeat(IdTokens.MAX_LENGTH + 1), Optional.empty()))
        .isEqualTo("malformed");
  }

  @Test
  void anUnknownKeyIdFetchesTheKeysAgainAtMostEveryTenSeconds() throws Exception {
    tokens.check(token(key, c -> {}), Optional.empty());
    assertThat(provider.keyFetches()).isEqualTo(1);
    RSAKey rotated = new RSAKeyGenerator(2048).keyID("k2").generate();
    published.set(new JWKSet(rotated));
    // Right after the last fetch: a token naming an unknown key does not make another fetch.
    assertThat(reason(token(rotated, c -> {}), Optional.empty())).isEqualTo("unknown-key");
    assertThat(reason(token(rotated, c -> {}), Optional.empty())).isEqualTo("unknown-key");
    assertThat(provider.keyFetches()).isEqualTo(1);
    now.set(now.get().plus(Duration.ofSeconds(11)));
    tokens.check(token(rotated, c -> {}), Optional.empty());
    assertThat(provider.keyFetches()).isEqualTo(2);
    // Known keys cost no fetch.
    tokens.check(token(rotated, c -> {}), Optional.empty());
    assertThat(provider.keyFetches()).isEqualTo(2);
  }

  @Test
  void aDiscoveryDocumentNamingAnotherIssuerIsRefused() {
    OidcOptions other = OidcOptions.of(issuer + "/", "edgefleet", Optional.empty(), List.of());
    OidcProvider p = new OidcProvider(URI.create(issuer + "/"), HttpClient.newHttpClient(), clock);
    assertThatThrownBy(
            () -> new IdTokens(p, other, clock).check(token(key, c -> {}), Optional.empty()))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.SSO_PROVIDER_UNAVAILABLE))
        .hasMessageContaining("set --oidc-issuer to exactly");
  }

  @Test
  void optionsAreChecked() {
    assertThat(OidcOptions.GroupRole.parse("eu staff=viewer@stores-eu"))
        .isEqualTo(new OidcOptions.GroupRole("eu staff", "viewer", Optional.of("stores-eu")));
    assertThat(OidcOptions.GroupRole.parse("ops=operator").project()).isEmpty();
    assertThatThrownBy(() -> OidcOptions.GroupRole.parse("ops"))
        .hasMessageContaining("GROUP=ROLE or GROUP=ROLE@PROJECT");
    assertThatThrownBy(
            () -> OidcOptions.of("http://login.example.com", "c", Optional.empty(), List.of()))
        .hasMessageContaining("https://");
    assertThatThrownBy(() -> OidcOptions.of("https://x.example", " ", Optional.empty(), List.of()))
        .hasMessageContaining("client id");
    assertThat(SingleSignOn.challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
        .isEqualTo("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  }
}
