package io.edgefleet.controller.sso;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Single sign-on with an OpenID Connect provider.
 *
 * @param issuer the provider's issuer URL, exactly as its ID tokens name it ({@code iss}); HTTPS,
 *     or HTTP on a loopback address only
 * @param clientId this controller's client id at the provider; ID tokens must name it in {@code
 *     aud}
 * @param clientSecret the client secret for a confidential client; empty for a public client, which
 *     proves the code exchange with PKCE alone
 * @param groupsClaim the ID token claim that lists the person's groups
 * @param groupRoles which group grants which role, over the fleet or within a project
 * @param tokenLifetime how long the edgefleet token given at a sign-in lives
 * @param clockSkew how far the provider's clock may be off when {@code exp} and {@code nbf} are
 *     checked
 */
public record OidcOptions(
    URI issuer,
    String clientId,
    Optional<String> clientSecret,
    String groupsClaim,
    List<GroupRole> groupRoles,
    Duration tokenLifetime,
    Duration clockSkew) {

  public static final String DEFAULT_GROUPS_CLAIM = "groups";
  public static final Duration DEFAULT_TOKEN_LIFETIME = Duration.ofHours(12);
  public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(60);

  public OidcOptions {
    issuer = issuer(issuer.toString());
    if (clientId == null || clientId.isBlank() || clientId.length() > 200) {
      throw new IllegalArgumentException("the client id is required: 1 to 200 characters");
    }
    if (groupsClaim == null || groupsClaim.isBlank()) {
      throw new IllegalArgumentException("the groups claim must not be empty");
    }
    if (tokenLifetime.toMinutes() < 1 || tokenLifetime.toDays() > 30) {
      throw new IllegalArgumentException("the token lifetime must be from 1m to 30d");
    }
    if (clockSkew.isNegative() || clockSkew.toMinutes() > 10) {
      throw new IllegalArgumentException("the clock skew must be from 0 to 10m");
    }
    groupRoles = List.copyOf(groupRoles);
  }

  /** Options with the defaults for the groups claim, token lifetime and clock skew. */
  public static OidcOptions of(
      String issuer, String clientId, Optional<String> clientSecret, List<GroupRole> groupRoles) {
    return new OidcOptions(
        URI.create(issuer.strip()),
        clientId.strip(),
        clientSecret,
        DEFAULT_GROUPS_CLAIM,
        groupRoles,
        DEFAULT_TOKEN_LIFETIME,
        DEFAULT_CLOCK_SKEW);
  }

  public OidcOptions withGroupsClaim(String claim) {
    return new OidcOptions(
        issuer, clientId, clientSecret, claim, groupRoles, tokenLifetime, clockSkew);
  }

  public OidcOptions withTokenLifetime(Duration lifetime) {
    return new OidcOptions(
        issuer, clientId, clientSecret, groupsClaim, groupRoles, lifetime, clockSkew);
  }

  /** Checks an issuer URL: absolute, HTTPS (HTTP only on loopback), no query or fragment. */
  static URI issuer(String text) {
    URI uri;
    try {
      uri = URI.create(text.strip());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the issuer '" + text + "' is not a URL");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (uri.getHost() == null || !(scheme.equals("https") || scheme.equals("http"))) {
      throw new IllegalArgumentException(
          "the issuer must be an https:// URL such as https://login.example.com/realms/ops, got '"
              + text
              + "'");
    }
    if (scheme.equals("http") && !loopback(uri.getHost())) {
      throw new IllegalArgumentException(
          "the issuer must use https:// (plain http:// only for a provider on this machine), got '"
              + text
              + "'");
    }
    if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException("the issuer must have no query or fragment: " + text);
    }
    return uri;
  }

  static boolean loopback(String host) {
    return host.equals("localhost")
        || host.startsWith("127.")
        || host.equals("[::1]")
        || host.equals("::1");
  }

  /**
   * A group that grants a role: over the whole fleet, or within one project.
   *
   * @param project empty for the whole fleet
   */
  public record GroupRole(String group, String role, Optional<String> project) {
    private static final Pattern SPEC = Pattern.compile("(.+)=([a-z0-9][a-z0-9._-]*)(?:@(.+))?");

    /** Parses {@code GROUP=ROLE} or {@code GROUP=ROLE@PROJECT}. */
    public static GroupRole parse(String spec) {
      Matcher m = SPEC.matcher(spec == null ? "" : spec.strip());
      if (!m.matches() || m.group(1).isBlank() || spec.length() > 400) {
        throw new IllegalArgumentException(
            "a group mapping is GROUP=ROLE or GROUP=ROLE@PROJECT, such as ops=operator or"
                + " eu-staff=viewer@stores-eu; got '"
                + spec
                + "'");
      }
      return new GroupRole(
          m.group(1).strip(), m.group(2), Optional.ofNullable(m.group(3)).map(String::strip));
    }

    @Override
    public String toString() {
      return group + "=" + role + project.map(p -> "@" + p).orElse("");
    }
  }
}
