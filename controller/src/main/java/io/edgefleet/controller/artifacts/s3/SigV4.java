package io.edgefleet.controller.artifacts.s3;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * AWS Signature Version 4 for S3 requests signed in their {@code Authorization} header. The
 * payload's SHA-256 is given by the caller (a blob's digest is exactly that), so a request body is
 * never read twice. Stateless and thread-safe.
 */
final class SigV4 {
  static final String EMPTY_SHA256 =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  private static final String ALGORITHM = "AWS4-HMAC-SHA256";
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final HexFormat HEX = HexFormat.of();

  private final S3Options.Credentials credentials;
  private final String region;

  SigV4(S3Options.Credentials credentials, String region) {
    this.credentials = credentials;
    this.region = region;
  }

  /**
   * The headers to add to a request: {@code x-amz-date}, {@code x-amz-content-sha256}, the session
   * token if any, and {@code Authorization}.
   *
   * @param host the {@code Host} header the HTTP client will send (with a port when not the
   *     scheme's default)
   * @param rawPath the request's path, already URI-encoded
   * @param headers other headers to sign (names in any case), such as {@code range}
   */
  Map<String, String> sign(
      String method,
      String host,
      String rawPath,
      Map<String, String> headers,
      String payloadSha256,
      ZonedDateTime now) {
    String stamp = STAMP.format(now);
    String day = stamp.substring(0, 8);
    SortedMap<String, String> signed = new TreeMap<>();
    headers.forEach((k, v) -> signed.put(k.toLowerCase(java.util.Locale.ROOT), v.trim()));
    signed.put("host", host);
    signed.put("x-amz-content-sha256", payloadSha256);
    signed.put("x-amz-date", stamp);
    credentials.sessionToken().ifPresent(t -> signed.put("x-amz-security-token", t));
    StringBuilder canonicalHeaders = new StringBuilder();
    signed.forEach((k, v) -> canonicalHeaders.append(k).append(':').append(v).append('\n'));
    String signedHeaders = String.join(";", signed.keySet());
    String canonicalRequest =
        method
            + "\n"
            + rawPath
            + "\n"
            + "\n"
            + canonicalHeaders
            + "\n"
            + signedHeaders
            + "\n"
            + payloadSha256;
    String scope = day + "/" + region + "/s3/aws4_request";
    String stringToSign =
        ALGORITHM + "\n" + stamp + "\n" + scope + "\n" + sha256Hex(canonicalRequest);
    byte[] key =
        hmac(("AWS4" + credentials.secretAccessKey()).getBytes(StandardCharsets.UTF_8), day);
    key = hmac(key, region);
    key = hmac(key, "s3");
    key = hmac(key, "aws4_request");
    String signature = HEX.formatHex(hmac(key, stringToSign));
    Map<String, String> out = new TreeMap<>();
    out.put("x-amz-date", stamp);
    out.put("x-amz-content-sha256", payloadSha256);
    credentials.sessionToken().ifPresent(t -> out.put("x-amz-security-token", t));
    out.put(
        "Authorization",
        ALGORITHM
            + " Credential="
            + credentials.accessKeyId()
            + "/"
            + scope
            + ", SignedHeaders="
            + signedHeaders
            + ", Signature="
            + signature);
    return out;
  }

  /**
   * A path segment encoded as S3 signs it: every byte but the unreserved characters {@code
   * A-Za-z0-9-._~} as {@code %XX}.
   */
  static String encodeSegment(String segment) {
    StringBuilder b = new StringBuilder();
    for (byte c : segment.getBytes(StandardCharsets.UTF_8)) {
      int u = c & 0xff;
      if ((u >= 'A' && u <= 'Z')
          || (u >= 'a' && u <= 'z')
          || (u >= '0' && u <= '9')
          || u == '-'
          || u == '.'
          || u == '_'
          || u == '~') {
        b.append((char) u);
      } else {
        b.append('%').append(HexFormat.of().withUpperCase().toHexDigits((byte) u));
      }
    }
    return b.toString();
  }

  static String sha256Hex(byte[] data) {
    try {
      return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String sha256Hex(String text) {
    return sha256Hex(text.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
