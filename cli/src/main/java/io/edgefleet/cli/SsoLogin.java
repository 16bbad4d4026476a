package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;

/**
 * {@code edgefleet login --sso}: single sign-on through the controller's OpenID Connect provider
 * with the device authorization grant (RFC 8628). The CLI asks the controller for the provider,
 * asks the provider for a user code, shows where to enter it, polls until the person approved, and
 * trades the ID token for an edgefleet token at the controller.
 */
final class SsoLogin {
  static final int MAX_BYTES = 256 * 1024;
  static final Duration TIMEOUT = Duration.ofSeconds(15);

  /** What the exchange gave: the token and who it belongs to. */
  record Result(String token, JsonNode signedIn) {}

  private final HttpClient http =
      HttpClient.newBuilder()
          .connectTimeout(Duration.ofSeconds(10))
          .followRedirects(HttpClient.Redirect.NEVER)
          .build();

  Result run(Connection controller, PrintWriter err) {
    JsonNode config;
    try (ControllerClient api = new ControllerClient(controller)) {
      config = api.get("/api/v1/auth/oidc/config");
    }
    String clientId = Formats.text(config, "clientId");
    String deviceEndpoint = Formats.text(config, "deviceAuthorizationEndpoint");
    String tokenEndpoint = Formats.text(config, "tokenEndpoint");
    if (deviceEndpoint == null || deviceEndpoint.isBlank()) {
      throw CliException.failed(
          "the identity provider "
              + Formats.text(config, "issuer")
              + " offers no device authorization grant: sign in to the console with SSO and"
              + " create a token there (`edgefleet tokens create`), then `edgefleet login --token`");
    }
    Map<String, String> ask = new LinkedHashMap<>();
    ask.put("client_id", clientId);
    ask.put("scope", config.path("scopes").asText("openid"));
    JsonNode device = post(URI.create(deviceEndpoint), ask);
    if (device.hasNonNull("error")) {
      throw CliException.failed("the identity provider refused the sign-in: " + error(device));
    }
    String deviceCode = device.path("device_code").asText("");
    String userCode = device.path("user_code").asText("");
    if (deviceCode.isEmpty() || userCode.isEmpty()) {
      throw CliException.failed("the identity provider answered no device or user code");
    }
    String complete = device.path("verification_uri_complete").asText("");
    err.println("To sign in, open " + device.path("verification_uri").asText(""));
    err.println("and enter the code " + userCode);
    if (!complete.isEmpty()) {
      err.println("(or open " + complete + ")");
    }
    err.println("Waiting for the sign-in to be approved...");
    err.flush();
    long interval = Math.max(1, device.path("interval").asLong(5));
    Instant deadline =
        Instant.now().plusSeconds(Math.min(3600, device.path("expires_in").asLong(600)));
    Map<String, String> poll = new LinkedHashMap<>();
    poll.put("grant_type", "urn:ietf:params:oauth:grant-type:device_code");
    poll.put("device_code", deviceCode);
    poll.put("client_id", clientId);
    while (true) {
      if (Instant.now().isAfter(deadline)) {
        throw CliException.failed(
            "the code "
                + userCode
                + " expired before the sign-in was approved: run the command again");
      }
      pause(Duration.ofSeconds(interval));
      JsonNode answer = post(URI.create(tokenEndpoint), poll);
      String error = answer.path("error").asText("");
      switch (error) {
        case "" -> {
          String idToken = answer.path("id_token").asText("");
          if (idToken.isEmpty()) {
            throw CliException.failed(
                "the identity provider returned no ID token: the client "
                    + clientId
                    + " must be allowed the openid scope");
          }
          return exchange(controller, idToken);
        }
        case "authorization_pending" -> {}
        case "slow_down" -> interval += 5;
        case "access_denied" ->
            throw CliException.failed("the sign-in was denied at the identity provider");
        case "expired_token" ->
            throw CliException.failed(
                "the code "
                    + userCode
                    + " expired before the sign-in was approved: run the command again");
        default -> throw CliException.failed("the identity provider refused: " + error(answer));
      }
    }
  }

  private static Result exchange(Connection controller, String idToken) {
    ObjectNode body = Json.mapper().createObjectNode();
    body.put("idToken", idToken);
    JsonNode signedIn;
    try (ControllerClient api = new ControllerClient(controller)) {
      signedIn = api.post("/api/v1/auth/oidc/token", body);
    }
    return new Result(Formats.text(signedIn, "token"), signedIn);
  }

  private static String error(JsonNode answer) {
    String e = answer.path("error").asText("");
    String d = answer.path("error_description").asText("");
    return d.isEmpty() ? e : e + " (" + d + ")";
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted while waiting for the sign-in");
    }
  }

  private JsonNode post(URI uri, Map<String, String> form) {
    StringJoiner body = new StringJoiner("&");
    form.forEach(
        (k, v) ->
            body.add(
                URLEncoder.encode(k, StandardCharsets.UTF_8)
                    + "="
                    + URLEncoder.encode(v, StandardCharsets.UTF_8)));
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .timeout(TIMEOUT)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
            .build();
    try {
      HttpResponse<InputStream> r = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
      byte[] bytes;
      try (InputStream in = r.body()) {
        bytes = in.readNBytes(MAX_BYTES + 1);
      }
      if (bytes.length > MAX_BYTES) {
        throw CliException.failed("the identity provider's answer from " + uri + " is too large");
      }
      try {
        JsonNode json = Json.mapper().readTree(bytes);
        if (json != null && json.isObject()) {
          return json;
        }
      } catch (IOException e) {
        // below
      }
      throw CliException.failed(
          "the identity provider at " + uri + " answered HTTP " + r.statusCode() + " without JSON");
    } catch (IOException e) {
      throw CliException.failed(
          "cannot reach the identity provider at " + uri + ": " + Formats.problem(e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliException.failed("interrupted while calling the identity provider");
    }
  }
}
