package io.edgefleet.controller.sso;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.access.AccessControl;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.jdbi.v3.core.Jdbi;

/**
 * Single sign-on with an OpenID Connect provider (decision 0037): the console's authorization code
 * flow with PKCE, and the exchange of an ID token the CLI got through the device authorization
 * grant. A person who signs in becomes (or stays) an edgefleet user whose roles are set from their
 * groups at every sign-in, and gets a short-lived edgefleet token. Thread-safe.
 */
public final class SingleSignOn {
  /** The scopes asked for. */
  public static final String SCOPES = "openid profile email";

  public static final String CALLBACK = "/api/v1/auth/oidc/callback";

  /** How long a started console sign-in may take. */
  static final Duration STATE_LIFETIME = Duration.ofMinutes(10);

  /** How many console sign-ins may be in progress at once. */
  static final int MAX_PENDING = 1000;

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Optional<Configured> configured;
  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final AccessControl access;
  private final Supplier<String> baseUrl;
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();

  private record Configured(OidcOptions options, OidcProvider provider, IdTokens tokens) {}

  /**
   * A console sign-in started: what its callback must match.
   *
   * @param browser the value of the cookie set in the browser that started it: a callback with a
   *     state started elsewhere (a link an attacker sends) is refused
   */
  private record Pending(String verifier, String nonce, String browser, long expiresAt) {}

  /** The cookie that ties a sign-in to the browser that started it. */
  public static final String COOKIE = "edgefleet_sso";

  /** A started console sign-in: where to send the browser, and the cookie to set there. */
  record Start(URI location, String cookie) {}

  /**
   * @param options the provider; empty when single sign-on is off
   * @param baseUrl the controller's URL as browsers reach it (the callback is under it)
   */
  public SingleSignOn(
      Optional<OidcOptions> options,
      Jdbi jdbi,
      Clock clock,
      AuditLog audit,
      AccessControl access,
      Supplier<String> baseUrl) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.access = access;
    this.baseUrl = baseUrl;
    HttpClient http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
    this.configured =
        options.map(
            o -> {
              OidcProvider p = new OidcProvider(o.issuer(), http, clock);
              return new Configured(o, p, new IdTokens(p, o, clock));
            });
  }

  private Configured configured() {
    return configured.orElseThrow(
        () ->
            new ControllerException(
                ErrorCode.SSO_NOT_CONFIGURED,
                "single sign-on is not configured on this controller: start it with --oidc-issuer"
                    + " and --oidc-client-id, or sign in with an API token"));
  }

  // --- what clients need to know --------------------------------------------------------------

  /** What a client needs to sign in: the provider, its endpoints and this controller's client. */
  public record Config(
      String issuer,
      String clientId,
      String scopes,
      String authorizationEndpoint,
      String tokenEndpoint,
      String deviceAuthorizationEndpoint,
      String loginUrl) {}

  Config config() {
    Configured c = configured();
    OidcProvider.Metadata m = c.provider().metadata();
    return new Config(
        c.options().issuer().toString(),
        c.options().clientId(),
        SCOPES,
        m.authorizationEndpoint().toString(),
        m.tokenEndpoint().toString(),
        m.deviceAuthorizationEndpoint().map(URI::toString).orElse(null),
        baseUrl.get() + "/api/v1/auth/oidc/login");
  }

  // --- the console: authorization code with PKCE ----------------------------------------------

  /** Starts a console sign-in: where to send the browser, and the cookie that binds it. */
  Start login() {
    Configured c = configured();
    OidcProvider.Metadata m = c.provider().metadata();
    long now = clock.millis();
    if (pending.size() >= MAX_PENDING) {
      pending.values().removeIf(p -> p.expiresAt() <= now);
      if (pending.size() >= MAX_PENDING) {
        throw new ControllerException(
            ErrorCode.RATE_LIMITED,
            "too many sign-ins are in progress: try again in a few minutes");
      }
    }
    String state = random();
    String nonce = random();
    String verifier = random() + random();
    String browser = random();
    pending.put(state, new Pending(verifier, nonce, browser, now + STATE_LIFETIME.toMillis()));
    Map<String, String> q = new LinkedHashMap<>();
    q.put("response_type", "code");
    q.put("client_id", c.options().clientId());
    q.put("redirect_uri", redirectUri());
    q.put("scope", SCOPES);
    q.put("state", state);
    q.put("nonce", nonce);
    q.put("code_challenge", challenge(verifier));
    q.put("code_challenge_method", "S256");
    String base = m.authorizationEndpoint().toString();
    return new Start(URI.create(base + (base.contains("?") ? "&" : "?") + form(q)), browser);
  }

  private String redirectUri() {
    return baseUrl.get() + CALLBACK;
  }

  /**
   * Completes a console sign-in.
   *
   * @param error what the provider said instead of a code, if anything
   * @param browser the browser's {@link #COOKIE}
   */
  AccessControl.SignedIn callback(
      Optional<String> code,
      Optional<String> state,
      Optional<String> error,
      Optional<String> errorDescription,
      Optional<String> browser) {
    Configured c = configured();
    Pending p = state.map(pending::remove).orElse(null);
    if (error.isPresent()) {
      throw new ControllerException(
          ErrorCode.SSO_LOGIN_FAILED,
          "the identity provider refused the sign-in: "
              + bounded(error.get())
              + errorDescription.map(d -> " (" + bounded(d) + ")").orElse(""));
    }
    if (p == null || p.expiresAt() <= clock.millis()) {
      throw new ControllerException(
          ErrorCode.SSO_LOGIN_FAILED,
          "this sign-in is unknown or took longer than "
              + STATE_LIFETIME.toMinutes()
              + " minutes: start again");
    }
    if (browser.isEmpty() || !MessageDigest.isEqual(bytes(p.browser()), bytes(browser.get()))) {
      throw new ControllerException(
          ErrorCode.SSO_LOGIN_FAILED,
          "this sign-in was started in another browser: start it again here");
    }
    if (code.isEmpty() || code.get().isBlank() || code.get().length() > 4096) {
      throw new ControllerException(
          ErrorCode.SSO_LOGIN_FAILED, "the provider sent no authorization code: start again");
    }
    Map<String, String> form = new LinkedHashMap<>();
    form.put("grant_type", "authorization_code");
    form.put("code", code.get());
    form.put("redirect_uri", redirectUri());
    form.put("code_verifier", p.verifier());
    Optional<String[]> basic =
        c.options().clientSecret().map(s -> new String[] {c.options().clientId(), s});
    if (basic.isEmpty()) {
      form.put("client_id", c.options().clientId());
    }
    JsonNode answer = c.provider().token(form, basic);
    if (answer.hasNonNull("error") || !answer.hasNonNull("id_token")) {
      throw new ControllerException(
          ErrorCode.SSO_LOGIN_FAILED,
          answer.hasNonNull("error")
              ? "the identity provider refused the code: "
                  + bounded(answer.path("error").asText())
                  + (answer.hasNonNull("error_description")
                      ? " (" + bounded(answer.path("error_description").asText()) + ")"
                      : "")
              : "the identity provider returned no ID token: is 'openid' an allowed scope of the"
                  + " client?");
    }
    IdTokens.Identity id =
        c.tokens().check(answer.path("id_token").asText(), Optional.of(p.nonce()));
    return signIn(c, id, "code");
  }

  // --- the CLI: an ID token from the device authorization grant -------------------------------

  /** What the CLI sends: the ID token it got from the provider. */
  public record TokenRequest(String idToken) {}

  AccessControl.SignedIn exchange(TokenRequest req) {
    Configured c = configured();
    IdTokens.Identity id = c.tokens().check(req == null ? null : req.idToken(), Optional.empty());
    return signIn(c, id, "device");
  }

  // --- sign-in --------------------------------------------------------------------------------

  private AccessControl.SignedIn signIn(Configured c, IdTokens.Identity id, String flow) {
    List<String> roles = new ArrayList<>();
    Map<String, List<String>> projectRoles = new TreeMap<>();
    List<String> unknown = new ArrayList<>();
    for (OidcOptions.GroupRole gr : c.options().groupRoles()) {
      if (!id.groups().contains(gr.group())) {
        continue;
      }
      boolean known =
          access.roleExists(gr.role()) && gr.project().map(access::projectExists).orElse(true);
      if (!known) {
        unknown.add(gr.toString());
      } else if (gr.project().isPresent()) {
        List<String> r = projectRoles.computeIfAbsent(gr.project().get(), k -> new ArrayList<>());
        if (!r.contains(gr.role())) {
          r.add(gr.role());
        }
      } else if (!roles.contains(gr.role())) {
        roles.add(gr.role());
      }
    }
    String who = id.email().or(id::username).orElse("sso-" + id.subject());
    Map<String, Object> detail = new LinkedHashMap<>();
    detail.put("issuer", id.issuer());
    detail.put("subject", id.subject());
    id.email().ifPresent(e -> detail.put("email", e));
    detail.put("groups", id.groups());
    detail.put("flow", flow);
    if (roles.isEmpty() && projectRoles.isEmpty()) {
      if (!unknown.isEmpty()) {
        detail.put("unknownMappings", unknown);
      }
      jdbi.useHandle(h -> audit.record(h, who, "user.sign-in-refused", who, detail));
      throw new ControllerException(
          ErrorCode.SSO_NO_ROLE,
          who
              + " signed in with the groups "
              + id.groups()
              + (unknown.isEmpty()
                  ? ", none of which maps to a role"
                  : ", whose mappings name unknown roles or projects: " + unknown)
              + ": ask an administrator to map one of them (--oidc-group-role GROUP=ROLE or"
              + " GROUP=ROLE@PROJECT)");
    }
    Optional<String> linked =
        jdbi.withHandle(
            h ->
                h.createQuery(
                        "SELECT user_id FROM sso_identities WHERE issuer = :iss AND subject = :sub")
                    .bind("iss", id.issuer())
                    .bind("sub", id.subject())
                    .mapTo(String.class)
                    .findOne());
    AccessControl.SignedIn signedIn =
        access.signIn(
            new AccessControl.SignIn(
                linked, who, roles, projectRoles, c.options().tokenLifetime(), "oidc", detail));
    long now = clock.millis();
    String groups = String.join(",", id.groups());
    String groupsSeen = groups.length() > 4000 ? groups.substring(0, 4000) : groups;
    jdbi.useTransaction(
        h -> {
          int updated =
              h.createUpdate(
                      "UPDATE sso_identities SET user_id = :user, email = :email, groups_seen ="
                          + " :groups, last_sign_in = :now WHERE issuer = :iss AND subject = :sub")
                  .bind("user", signedIn.userId())
                  .bind("email", id.email().orElse(null))
                  .bind("groups", groupsSeen)
                  .bind("now", now)
                  .bind("iss", id.issuer())
                  .bind("sub", id.subject())
                  .execute();
          if (updated == 0) {
            h.createUpdate(
                    "INSERT INTO sso_identities (issuer, subject, user_id, email, groups_seen,"
                        + " first_sign_in, last_sign_in) VALUES (:iss, :sub, :user, :email,"
                        + " :groups, :now, :now)")
                .bind("iss", id.issuer())
                .bind("sub", id.subject())
                .bind("user", signedIn.userId())
                .bind("email", id.email().orElse(null))
                .bind("groups", groupsSeen)
                .bind("now", now)
                .execute();
          }
        });
    return signedIn;
  }

  /** What the CLI gets back from an exchange. */
  public record SignedInView(
      String user,
      List<String> roles,
      Map<String, List<String>> projects,
      String token,
      Instant expiresAt) {
    static SignedInView of(AccessControl.SignedIn s) {
      return new SignedInView(s.name(), s.roles(), s.projects(), s.token(), s.expiresAt());
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String random() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  static String challenge(String verifier) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String form(Map<String, String> params) {
    StringBuilder sb = new StringBuilder();
    params.forEach(
        (k, v) -> {
          if (sb.length() > 0) {
            sb.append('&');
          }
          sb.append(URLEncoder.encode(k, StandardCharsets.UTF_8))
              .append('=')
              .append(URLEncoder.encode(v, StandardCharsets.UTF_8));
        });
    return sb.toString();
  }

  private static String bounded(String text) {
    String t = text.replaceAll("[\\p{Cntrl}]", " ");
    return t.length() > 300 ? t.substring(0, 300) + "…" : t;
  }
}
