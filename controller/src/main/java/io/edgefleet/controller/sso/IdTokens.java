package io.edgefleet.controller.sso;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jwk.AsymmetricJWK;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.security.Key;
import java.text.ParseException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Checks OpenID Connect ID tokens (OpenID Connect Core 1.0, section 3.1.3.7): an asymmetric
 * signature by one of the provider's keys, the issuer, the audience (this client), the times with a
 * little clock skew, and for the code flow the nonce. Signatures are checked by Nimbus JOSE+JWT.
 *
 * <p>A refused token fails with {@link ErrorCode#SSO_TOKEN_INVALID} and a message that starts with
 * a stable reason: {@code malformed}, {@code algorithm}, {@code unknown-key}, {@code signature},
 * {@code issuer}, {@code audience}, {@code expired}, {@code not-yet-valid}, {@code nonce} or {@code
 * subject}.
 */
final class IdTokens {
  /** The largest ID token accepted, in characters. */
  static final int MAX_LENGTH = 16 * 1024;

  static final int MAX_GROUPS = 500;

  /** Signature algorithms accepted: asymmetric only (no {@code none}, no shared secrets). */
  static final Set<JWSAlgorithm> ALGORITHMS =
      Set.of(
          JWSAlgorithm.RS256,
          JWSAlgorithm.RS384,
          JWSAlgorithm.RS512,
          JWSAlgorithm.PS256,
          JWSAlgorithm.PS384,
          JWSAlgorithm.PS512,
          JWSAlgorithm.ES256,
          JWSAlgorithm.ES384,
          JWSAlgorithm.ES512);

  /** Who the token says signed in. */
  record Identity(
      String issuer,
      String subject,
      Optional<String> email,
      Optional<String> username,
      List<String> groups,
      Instant expiresAt) {}

  private final OidcProvider provider;
  private final OidcOptions options;
  private final Clock clock;

  IdTokens(OidcProvider provider, OidcOptions options, Clock clock) {
    this.provider = provider;
    this.options = options;
    this.clock = clock;
  }

  /**
   * Checks an ID token.
   *
   * @param nonce the nonce the token must carry (code flow); empty when none was sent (device flow)
   */
  Identity check(String token, Optional<String> nonce) {
    if (token == null || token.isBlank()) {
      throw refused("malformed", "no ID token was given");
    }
    if (token.length() > MAX_LENGTH) {
      throw refused("malformed", "the ID token is longer than " + MAX_LENGTH + " characters");
    }
    SignedJWT jwt;
    JWTClaimsSet claims;
    try {
      jwt = SignedJWT.parse(token.strip());
      claims = jwt.getJWTClaimsSet();
    } catch (ParseException e) {
      throw refused("malformed", "the ID token is not a signed JWT: " + e.getMessage());
    }
    JWSAlgorithm alg = jwt.getHeader().getAlgorithm();
    if (!ALGORITHMS.contains(alg)) {
      throw refused(
          "algorithm", "the ID token is signed with " + alg + ", which is not accepted here");
    }
    String kid = jwt.getHeader().getKeyID();
    JWK jwk =
        provider
            .key(kid)
            .orElseThrow(
                () ->
                    refused(
                        "unknown-key",
                        "the ID token is signed with the key '"
                            + kid
                            + "', which the provider does not publish"));
    if (jwk.getKeyUse() != null && !KeyUse.SIGNATURE.equals(jwk.getKeyUse())) {
      throw refused("unknown-key", "the key '" + kid + "' is not a signing key");
    }
    boolean valid;
    try {
      if (!(jwk instanceof AsymmetricJWK asymmetric)) {
        throw refused("unknown-key", "the key '" + kid + "' is not a public key");
      }
      Key key = asymmetric.toPublicKey();
      JWSVerifier verifier =
          new DefaultJWSVerifierFactory().createJWSVerifier(jwt.getHeader(), key);
      valid = jwt.verify(verifier);
    } catch (JOSEException e) {
      throw refused("signature", "the ID token's signature cannot be checked: " + e.getMessage());
    }
    if (!valid) {
      throw refused("signature", "the ID token's signature does not match the provider's key");
    }
    if (!options.issuer().toString().equals(claims.getIssuer())) {
      throw refused(
          "issuer",
          "the ID token was issued by '"
              + claims.getIssuer()
              + "', not by the configured provider '"
              + options.issuer()
              + "'");
    }
    List<String> audience = claims.getAudience();
    if (audience == null || !audience.contains(options.clientId())) {
      throw refused(
          "audience",
          "the ID token is for "
              + audience
              + ", not for this controller's client id '"
              + options.clientId()
              + "'");
    }
    Object azp = claims.getClaim("azp");
    if (audience.size() > 1 && azp != null && !options.clientId().equals(azp)) {
      throw refused("audience", "the ID token was issued to '" + azp + "', not to this controller");
    }
    long now = clock.millis();
    long skew = options.clockSkew().toMillis();
    Date exp = claims.getExpirationTime();
    if (exp == null || now > exp.getTime() + skew) {
      throw refused(
          "expired",
          exp == null
              ? "the ID token has no expiry"
              : "the ID token expired at " + exp.toInstant() + ": sign in again");
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && now + skew < nbf.getTime()) {
      throw refused("not-yet-valid", "the ID token is valid only from " + nbf.toInstant());
    }
    Date iat = claims.getIssueTime();
    if (iat != null && now + skew < iat.getTime()) {
      throw refused(
          "not-yet-valid", "the ID token was issued in the future, at " + iat.toInstant());
    }
    if (nonce.isPresent()) {
      Object said = claims.getClaim("nonce");
      if (!nonce.get().equals(said)) {
        throw refused("nonce", "the ID token does not carry the nonce of this sign-in");
      }
    }
    String subject = claims.getSubject();
    if (subject == null || subject.isBlank() || subject.length() > 255) {
      throw refused("subject", "the ID token has no valid subject (sub)");
    }
    return new Identity(
        claims.getIssuer(),
        subject,
        text(claims, "email"),
        text(claims, "preferred_username"),
        groups(claims.getClaim(options.groupsClaim())),
        exp.toInstant());
  }

  private static Optional<String> text(JWTClaimsSet claims, String name) {
    Object v = claims.getClaim(name);
    return v instanceof String s && !s.isBlank() && s.length() <= 320
        ? Optional.of(s.strip())
        : Optional.empty();
  }

  /** The groups claim: a list of strings or one string; bounded. */
  private static List<String> groups(Object claim) {
    List<String> out = new ArrayList<>();
    if (claim instanceof String s) {
      out.add(s);
    } else if (claim instanceof List<?> list) {
      for (Object o : list) {
        if (o instanceof String s && s.length() <= 256) {
          out.add(s);
        }
        if (out.size() >= MAX_GROUPS) {
          break;
        }
      }
    }
    return List.copyOf(out);
  }

  static ControllerException refused(String reason, String message) {
    return new ControllerException(ErrorCode.SSO_TOKEN_INVALID, reason + ": " + message);
  }
}
