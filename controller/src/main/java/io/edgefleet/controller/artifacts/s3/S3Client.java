package io.edgefleet.controller.artifacts.s3;

import io.edgefleet.controller.common.TrustedCas;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The few S3 operations a blob store needs (HEAD, ranged GET, PUT, DELETE of one object, HEAD of
 * the bucket), signed with {@link SigV4} over the JDK's HTTP client, with path-style addressing.
 * Idempotent requests that fail on the way or with a 5xx are tried again twice. Thread-safe.
 */
final class S3Client {
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final int ATTEMPTS = 3;
  private static final int MAX_ERROR_BODY = 16 * 1024;
  private static final Pattern ERROR_CODE = Pattern.compile("<Code>([^<]{1,200})</Code>");
  private static final Pattern ERROR_MESSAGE = Pattern.compile("<Message>([^<]{1,1000})</Message>");

  private final S3Options options;
  private final SigV4 signer;
  private final HttpClient http;
  private final Clock clock;
  private final String host;

  S3Client(S3Options options, Clock clock) {
    this.options = options;
    this.clock = clock;
    this.signer = new SigV4(options.credentials(), options.region());
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(CONNECT_TIMEOUT)
            .followRedirects(HttpClient.Redirect.NEVER);
    options
        .caFile()
        .ifPresent(
            ca -> {
              try {
                b.sslContext(TrustedCas.sslContext(ca));
              } catch (IOException | GeneralSecurityException e) {
                throw new IllegalArgumentException(
                    "cannot use "
                        + ca
                        + " as the CA of the S3 endpoint: "
                        + e.getMessage()
                        + "; give a PEM file of CA certificates",
                    e);
              }
            });
    this.http = b.build();
    URI e = options.endpoint();
    int port = e.getPort();
    boolean defaultPort = port == -1 || ("https".equals(e.getScheme()) ? port == 443 : port == 80);
    this.host = defaultPort ? e.getHost() : e.getHost() + ":" + port;
  }

  /** Checks that the bucket exists and the credentials may use it. */
  void checkBucket() throws IOException {
    HttpResponse<InputStream> r = send("HEAD", bucketPath(), Map.of(), null, SigV4.EMPTY_SHA256);
    if (r.statusCode() != 200) {
      throw failure(r, "the bucket");
    }
    r.body().close();
  }

  /** The size of the object {@code key}; empty when there is none. */
  OptionalLong head(String key) throws IOException {
    HttpResponse<InputStream> r = send("HEAD", objectPath(key), Map.of(), null, SigV4.EMPTY_SHA256);
    if (r.statusCode() != 200 && r.statusCode() != 404) {
      throw failure(r, key);
    }
    r.body().close();
    if (r.statusCode() == 404) {
      return OptionalLong.empty();
    }
    OptionalLong size = r.headers().firstValueAsLong("content-length");
    if (size.isEmpty()) {
      throw new IOException("the S3 service sent no Content-Length for " + key);
    }
    return size;
  }

  /**
   * {@code count} bytes of the object {@code key} from {@code from}.
   *
   * @throws NoSuchFileException when there is no such object
   */
  InputStream get(String key, long from, long count) throws IOException {
    if (count == 0) {
      return InputStream.nullInputStream();
    }
    Map<String, String> headers = Map.of("range", "bytes=" + from + "-" + (from + count - 1));
    HttpResponse<InputStream> r = send("GET", objectPath(key), headers, null, SigV4.EMPTY_SHA256);
    int status = r.statusCode();
    if (status == 206 || (status == 200 && from == 0)) {
      return r.body();
    }
    if (status == 404) {
      r.body().close();
      throw new NoSuchFileException(key, null, "no such object in " + options.location());
    }
    throw failure(r, key);
  }

  /** The whole object {@code key} if there is one, at most {@code max} bytes. */
  Optional<byte[]> getSmall(String key, int max) throws IOException {
    HttpResponse<InputStream> r = send("GET", objectPath(key), Map.of(), null, SigV4.EMPTY_SHA256);
    if (r.statusCode() == 404) {
      r.body().close();
      return Optional.empty();
    }
    if (r.statusCode() != 200) {
      throw failure(r, key);
    }
    try (InputStream in = r.body()) {
      byte[] content = in.readNBytes(max + 1);
      if (content.length > max) {
        throw new IOException("the object " + key + " is larger than " + max + " bytes");
      }
      return Optional.of(content);
    }
  }

  /** Puts {@code file}, whose SHA-256 is {@code sha256Hex}, as the object {@code key}. */
  void put(String key, Path file, String sha256Hex, long size) throws IOException {
    // An upload may take a while over a slow link: a minute plus one second per MiB.
    Duration timeout = TIMEOUT.plusSeconds(size >> 20);
    HttpResponse<InputStream> r =
        send(
            "PUT",
            objectPath(key),
            Map.of(),
            () -> {
              try {
                return HttpRequest.BodyPublishers.ofFile(file);
              } catch (java.io.FileNotFoundException e) {
                throw new UncheckedIOException(e);
              }
            },
            sha256Hex,
            timeout);
    finish(r, key);
  }

  /** Puts {@code content} as the object {@code key}. */
  void put(String key, byte[] content) throws IOException {
    HttpResponse<InputStream> r =
        send(
            "PUT",
            objectPath(key),
            Map.of(),
            () -> HttpRequest.BodyPublishers.ofByteArray(content),
            SigV4.sha256Hex(content));
    finish(r, key);
  }

  /** Deletes the object {@code key}; deleting one that is not there is not an error. */
  void delete(String key) throws IOException {
    HttpResponse<InputStream> r =
        send("DELETE", objectPath(key), Map.of(), null, SigV4.EMPTY_SHA256);
    if (r.statusCode() == 404) {
      r.body().close();
      return;
    }
    finish(r, key);
  }

  private void finish(HttpResponse<InputStream> r, String what) throws IOException {
    if (r.statusCode() / 100 != 2) {
      throw failure(r, what);
    }
    r.body().close();
  }

  private String bucketPath() {
    return "/" + SigV4.encodeSegment(options.bucket());
  }

  private String objectPath(String key) {
    StringBuilder b = new StringBuilder(bucketPath());
    for (String segment : (options.prefix() + key).split("/", -1)) {
      b.append('/').append(SigV4.encodeSegment(segment));
    }
    return b.toString();
  }

  private HttpResponse<InputStream> send(
      String method,
      String rawPath,
      Map<String, String> headers,
      java.util.function.Supplier<HttpRequest.BodyPublisher> body,
      String payloadSha256)
      throws IOException {
    return send(method, rawPath, headers, body, payloadSha256, TIMEOUT);
  }

  private HttpResponse<InputStream> send(
      String method,
      String rawPath,
      Map<String, String> headers,
      java.util.function.Supplier<HttpRequest.BodyPublisher> body,
      String payloadSha256,
      Duration timeout)
      throws IOException {
    URI uri = URI.create(options.endpoint().toString().replaceAll("/+$", "") + rawPath);
    IOException last = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      Map<String, String> all = new LinkedHashMap<>(headers);
      all.putAll(
          signer.sign(
              method,
              host,
              rawPath,
              headers,
              payloadSha256,
              ZonedDateTime.ofInstant(clock.instant(), java.time.ZoneOffset.UTC)));
      HttpRequest.Builder b =
          HttpRequest.newBuilder(uri)
              .timeout(timeout)
              .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : body.get());
      all.forEach(b::header);
      try {
        HttpResponse<InputStream> r =
            http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        if ((r.statusCode() >= 500 || r.statusCode() == 429) && attempt < ATTEMPTS) {
          last = failure(r, rawPath);
          backOff(attempt);
          continue;
        }
        return r;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while the S3 service answered");
      } catch (UncheckedIOException e) {
        throw e.getCause();
      } catch (IOException e) {
        last =
            new IOException(
                "cannot reach the S3 service at "
                    + options.endpoint()
                    + " ("
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
                    + ")",
                e);
        if (attempt < ATTEMPTS) {
          backOff(attempt);
        }
      }
    }
    throw last;
  }

  private static void backOff(int attempt) {
    LockSupport.parkNanos(Duration.ofMillis(250L << (2 * (attempt - 1))).toNanos());
  }

  private S3Exception failure(HttpResponse<InputStream> r, String what) {
    String text;
    try (InputStream in = r.body()) {
      text = new String(in.readNBytes(MAX_ERROR_BODY), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      // A HEAD has no body, and a broken body leaves the status to speak.
      text = "";
    }
    Matcher code = ERROR_CODE.matcher(text);
    Matcher message = ERROR_MESSAGE.matcher(text);
    String c =
        code.find()
            ? code.group(1)
            : switch (r.statusCode()) {
              case 403 -> "AccessDenied";
              case 404 -> r.request().uri().getRawPath().equals(bucketPath()) ? "NoSuchBucket" : "";
              default -> "";
            };
    String m = message.find() ? message.group(1) : "";
    int status = r.statusCode();
    String hint =
        switch (status) {
          case 403 ->
              "check the access key (EDGEFLEET_S3_ACCESS_KEY_ID, EDGEFLEET_S3_SECRET_ACCESS_KEY),"
                  + " its rights on the bucket, --s3-region and the machine's clock";
          case 404 -> "check --s3-bucket: the bucket must exist";
          default -> "try again; check the S3 service if this persists";
        };
    return new S3Exception(
        status,
        c,
        "the S3 service at "
            + options.endpoint()
            + " answered "
            + status
            + (c.isEmpty() ? "" : " " + c)
            + (m.isEmpty() ? "" : " (" + m + ")")
            + " for "
            + what
            + " in bucket "
            + options.bucket()
            + ": "
            + hint);
  }
}
