package io.edgefleet.controller.artifacts.s3;

import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where an S3-compatible artifact store is and how to sign requests to it. Requests address the
 * bucket by path ({@code <endpoint>/<bucket>/<key>}), which AWS S3, MinIO, Ceph RGW, Garage and
 * SeaweedFS all accept.
 *
 * @param endpoint the service's base URL, such as {@code https://minio.example:9000} or {@code
 *     https://s3.eu-central-1.amazonaws.com}
 * @param bucket an existing bucket
 * @param prefix the key prefix under which blobs are kept (empty, or ending in {@code /})
 * @param region the region requests are signed for ({@code us-east-1} for most non-AWS stores)
 * @param credentials the access key that signs requests
 * @param caFile CA certificates (PEM) trusted for an {@code https} endpoint instead of the JDK's
 */
public record S3Options(
    URI endpoint,
    String bucket,
    String prefix,
    String region,
    Credentials credentials,
    Optional<Path> caFile) {

  /** The region signed for when none is given. */
  public static final String DEFAULT_REGION = "us-east-1";

  private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  private static final Pattern PREFIX = Pattern.compile("(?:[A-Za-z0-9._-]+/){0,10}");
  private static final Pattern REGION = Pattern.compile("[a-z0-9-]{1,40}");

  /**
   * An access key; {@link #toString} never shows the secret.
   *
   * @param sessionToken for temporary credentials; empty otherwise
   */
  public record Credentials(
      String accessKeyId, String secretAccessKey, Optional<String> sessionToken) {
    public Credentials {
      if (accessKeyId == null || accessKeyId.isBlank() || accessKeyId.length() > 128) {
        throw new IllegalArgumentException("the S3 access key id must be 1 to 128 characters");
      }
      if (secretAccessKey == null || secretAccessKey.isEmpty() || secretAccessKey.length() > 256) {
        throw new IllegalArgumentException("the S3 secret access key must be 1 to 256 characters");
      }
      sessionToken = sessionToken == null ? Optional.empty() : sessionToken;
    }

    @Override
    public String toString() {
      return "Credentials[accessKeyId=" + accessKeyId + ", secretAccessKey=***]";
    }
  }

  public S3Options {
    if (endpoint == null
        || endpoint.getHost() == null
        || !("https".equals(endpoint.getScheme()) || "http".equals(endpoint.getScheme()))
        || endpoint.getRawQuery() != null
        || endpoint.getRawFragment() != null
        || (endpoint.getRawPath() != null
            && !endpoint.getRawPath().isEmpty()
            && !endpoint.getRawPath().equals("/"))) {
      throw new IllegalArgumentException(
          "the S3 endpoint must be an http(s) URL with a host and no path, such as"
              + " https://minio.example:9000; got "
              + endpoint);
    }
    if (bucket == null || !BUCKET.matcher(bucket).matches() || bucket.contains("..")) {
      throw new IllegalArgumentException(
          "the S3 bucket must be 3 to 63 lowercase letters, digits, dots and dashes; got '"
              + bucket
              + "'");
    }
    prefix = prefix == null ? "" : prefix;
    if (!prefix.isEmpty() && !prefix.endsWith("/")) {
      prefix = prefix + "/";
    }
    if (prefix.length() > 200
        || !PREFIX.matcher(prefix).matches()
        || ("/" + prefix).contains("/./")
        || ("/" + prefix).contains("/../")) {
      throw new IllegalArgumentException(
          "the S3 key prefix must be up to 10 path segments of letters, digits, '.', '_' and '-',"
              + " such as edgefleet/artifacts; got '"
              + prefix
              + "'");
    }
    region = region == null || region.isBlank() ? DEFAULT_REGION : region;
    if (!REGION.matcher(region).matches()) {
      throw new IllegalArgumentException("the S3 region '" + region + "' is not valid");
    }
    if (credentials == null) {
      throw new IllegalArgumentException("S3 credentials are required");
    }
    caFile = caFile == null ? Optional.empty() : caFile;
    if (caFile.isPresent() && !"https".equals(endpoint.getScheme())) {
      throw new IllegalArgumentException("an S3 CA file needs an https endpoint");
    }
  }

  /** The bucket's URL, for logs and errors. */
  public String location() {
    String base = endpoint.toString().replaceAll("/+$", "");
    return base + "/" + bucket + "/" + prefix;
  }
}
