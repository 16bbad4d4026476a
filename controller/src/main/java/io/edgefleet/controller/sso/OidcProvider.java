package io.edgefleet.controller.sso;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The identity provider as this controller sees it: its discovery document and signing keys,
 * fetched when first needed and kept, and its token endpoint. Thread-safe.
 *
 * <p>Everything read from the provider is bounded ({@link #MAX_BYTES}, {@link #MAX_KEYS}, {@link
 * #TIMEOUT}). The keys are fetched again when a token names a key id not among them (the provider
 * rotated its key), at most once per {@link #MIN_KEY_REFRESH}, so tokens with made-up key ids
 * cannot make the controller hammer the provider.
 */
final class OidcProvider {
  static final int MAX_BYTES = 256 * 1024;
  static final int MAX_KEYS = 50;
  static final Duration TIMEOUT = Duration.ofSeconds(10);
  static final Duration DISCOVERY_TTL = Duration.ofHours(1);
  static final Duration MIN_KEY_REFRESH = Duration.ofSeconds(10);

  /** What the discovery document says. */
  record Metadata(
      URI authorizationEndpoint,
      URI tokenEndpoint,
      Optional<URI> deviceAuthorizationEndpoint,
      URI jwksUri,
      long fetchedAt) {}

  private final URI issuer;
  private final HttpClient http;
  private final Clock clock;
  private volatile Metadata metadata;
  private volatile JWKSet keys;
  private volatile long keysFetchedAt = Long.MIN_VALUE / 2;
  private final AtomicLong keyFetches = new AtomicLong();

  OidcProvider(URI issuer, HttpClient http, Clock clock) {
    this.issuer = issuer;
    this.http = http;
    this.clock = clock;
  }

  URI issuer() {
    return issuer;
  }

  /** How many times the signing keys were fetched. */
  long keyFetches() {
    return keyFetches.get();
  }

  /** The discovery document, fetched again when older than {@link #DISCOVERY_TTL}. */
  Metadata metadata() {
    Metadata m = metadata;
    if (m != null && clock.millis() - m.fetchedAt() < DISCOVERY_TTL.toMillis()) {
      return m;
    }
    synchronized (this) {
      m = metadata;
      if (m != null && clock.millis() - m.fetchedAt() < DISCOVERY_TTL.toMillis()) {
        return m;
      }
      String base = issuer.toString().replaceAll("/+$", "");
      JsonNode doc = json(get(URI.create(base + "/.well-known/openid-configuration")), "discovery");
      String said = doc.path("issuer").asText("");
      if (!said.equals(issuer.toString())) {
        throw unavailable(
            "the provider's discovery document names the issuer '"
                + said
                + "', not '"
                + issuer
                + "' as configured: set --oidc-issuer to exactly what the provider says");
      }
      Optional<URI> device =
          doc.hasNonNull("device_authorization_endpoint")
              ? Optional.of(endpoint(doc, "device_authorization_endpoint"))
              : Optional.empty();
      metadata =
          new Metadata(
              endpoint(doc, "authorization_endpoint"),
              endpoint(doc, "token_endpoint"),
              device,
              endpoint(doc, "jwks_uri"),
              clock.millis());
      return metadata;
    }
  }

  /**
   * The provider's key with this id; the keys are fetched again once when it is unknown.
   *
   * @param kid the token's key id; null when the token names none (then the only key of the set)
   */
  Optional<JWK> key(String kid) {
    JWKSet set = keys;
    if (set == null) {
      set = fetchKeys(set);
    }
    Optional<JWK> found = find(set, kid);
    if (found.isEmpty()) {
      set = fetchKeys(set);
      found = find(set, kid);
    }
    return found;
  }

  private static Optional<JWK> find(JWKSet set, String kid) {
    if (kid == null) {
      return set.getKeys().size() == 1 ? Optional.of(set.getKeys().get(0)) : Optional.empty();
    }
    return Optional.ofNullable(set.getKeyByKeyId(kid));
  }

  /** Fetches the keys unless another thread just did, or the last fetch was too recent. */
  private synchronized JWKSet fetchKeys(JWKSet seen) {
    if (keys != null && keys != seen) {
      return keys;
    }
    long now = clock.millis();
    if (keys != null && now - keysFetchedAt < MIN_KEY_REFRESH.toMillis()) {
      return keys;
    }
    String body = get(metadata().jwksUri());
    JWKSet set;
    try {
      set = JWKSet.parse(body);
    } catch (java.text.ParseException e) {
      throw unavailable(
          "the provider's signing keys (jwks_uri) are not a JWK set: " + e.getMessage());
    }
    if (set.getKeys().size() > MAX_KEYS) {
      throw unavailable("the provider publishes more than " + MAX_KEYS + " signing keys");
    }
    keys = set.toPublicJWKSet();
    keysFetchedAt = now;
    keyFetches.incrementAndGet();
    return keys;
  }

  /**
   * Posts a form to the token endpoint.
   *
   * @param basic client id and secret for HTTP basic authentication; empty for a public client
   * @return the JSON answer, also when the provider refused (it then has {@code error})
   */
  JsonNode token(Map<String, String> form, Optional<String[]> basic) {
    StringJoiner body = new StringJoiner("&");
    form.forEach(
        (k, v) ->
            body.add(
                URLEncoder.encode(k, StandardCharsets.UTF_8)
                    + "="
                    + URLEncoder.encode(v, StandardCharsets.UTF_8)));
    HttpRequest.Builder req =
        HttpRequest.newBuilder(metadata().tokenEndpoint())
            .timeout(TIMEOUT)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
    basic.ifPresent(
        b ->
            req.header(
                "Authorization",
                "Basic "
                    + Base64.getEncoder()
                        .encodeToString(
                            (URLEncoder.encode(b[0], StandardCharsets.UTF_8)
                                    + ":"
                                    + URLEncoder.encode(b[1], StandardCharsets.UTF_8))
                                .getBytes(StandardCharsets.UTF_8))));
    Answer a = send(req.build());
    if (a.status() >= 500) {
      throw unavailable("the provider's token endpoint answered HTTP " + a.status());
    }
    return json(a.body(), "token endpoint");
  }

  private record Answer(int status, String body) {}

  private String get(URI uri) {
    Answer a =
        send(
            HttpRequest.newBuilder(uri)
                .timeout(TIMEOUT)
                .header("Accept", "application/json")
                .GET()
                .build());
    if (a.status() != 200) {
      throw unavailable("the provider answered HTTP " + a.status() + " for " + uri);
    }
    return a.body();
  }

  private Answer send(HttpRequest request) {
    try {
      HttpResponse<InputStream> response =
          http.send(request, HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream in = response.body()) {
        byte[] bytes = in.readNBytes(MAX_BYTES + 1);
        if (bytes.length > MAX_BYTES) {
          throw unavailable(
              "the provider's answer from " + request.uri() + " is larger than " + MAX_BYTES);
        }
        return new Answer(response.statusCode(), new String(bytes, StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw unavailable(
          "the identity provider at " + request.uri() + " could not be reached: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unavailable("interrupted while calling the identity provider");
    }
  }

  private static JsonNode json(String body, String what) {
    try {
      JsonNode node = Json.mapper().readTree(body);
      if (node == null || !node.isObject()) {
        throw new IOException("not a JSON object");
      }
      return node;
    } catch (IOException e) {
      throw unavailable("the provider's " + what + " answer is not JSON: " + e.getMessage());
    }
  }

  private URI endpoint(JsonNode doc, String field) {
    String text = doc.path(field).asText("");
    URI uri;
    try {
      uri = URI.create(text);
    } catch (IllegalArgumentException e) {
      throw unavailable("the provider's " + field + " is not a URL: " + text);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    boolean ok =
        uri.getHost() != null
            && (scheme.equals("https")
                || (scheme.equals("http") && OidcOptions.loopback(uri.getHost())));
    if (!ok) {
      throw unavailable("the provider's " + field + " must be an https:// URL, got '" + text + "'");
    }
    return uri;
  }

  static ControllerException unavailable(String message) {
    return new ControllerException(ErrorCode.SSO_PROVIDER_UNAVAILABLE, message);
  }
}
