package io.edgefleet.controller.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.TrustedCas;
import io.edgefleet.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * A client of one repository of an OCI distribution registry (HTTP API v2) over the JDK's HTTP
 * client: manifests by tag or digest and blobs by digest, anonymous, with basic credentials or with
 * a bearer token fetched after a {@code WWW-Authenticate: Bearer} challenge.
 *
 * <p>Bounds: one connection at a time (requests are sequential), a connect timeout, a timeout for
 * each answer's headers, and a stall timeout while a body streams (the client is shut down when no
 * byte arrives for that long). Manifests and token answers are read into memory up to a small
 * limit; blobs stream to disk, at most the size their descriptor states. Not thread-safe: one
 * client per mirror.
 */
final class RegistryClient implements AutoCloseable {
  /** The largest manifest read (distribution refuses larger ones too). */
  static final int MAX_MANIFEST = 4 * 1024 * 1024;

  private static final int MAX_SMALL_BODY = 64 * 1024;
  private static final int MAX_REDIRECTS = 5;
  private static final int CHUNK = 64 * 1024;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The time limits of a client. */
  record Timeouts(Duration connect, Duration answer, Duration stall) {
    static Timeouts defaults() {
      return new Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60));
    }
  }

  /** A manifest as the registry sent it, with the digest of its bytes. */
  record Fetched(byte[] body, String contentType, String digest, Optional<String> claimedDigest) {}

  private final RegistrySettings settings;
  private final String repository;
  private final Timeouts timeouts;
  private final ScheduledExecutorService timer;
  private final HttpClient http;
  private final URI base;
  private Optional<String> authorization = Optional.empty();
  private boolean challenged;

  RegistryClient(
      RegistrySettings settings,
      String repository,
      Timeouts timeouts,
      ScheduledExecutorService timer) {
    this.settings = settings;
    this.repository = repository;
    this.timeouts = timeouts;
    this.timer = timer;
    this.base = URI.create((settings.insecure() ? "http://" : "https://") + settings.host() + "/");
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeouts.connect())
            // Redirects are followed here, so that credentials never travel to another host.
            .followRedirects(HttpClient.Redirect.NEVER);
    settings.caFile().ifPresent(ca -> b.sslContext(trusting(ca)));
    this.http = b.build();
  }

  /** The manifest or index {@code reference} (a tag or a digest) names. */
  Fetched manifest(String reference) {
    String what = "manifest " + reference + " of " + name();
    HttpResponse<InputStream> response;
    try {
      response = send("v2/" + repository + "/manifests/" + reference, Manifests.ACCEPT, what);
    } catch (ControllerException e) {
      if (e.code() == ErrorCode.REGISTRY_NOT_FOUND && !repositoryExists()) {
        throw new ControllerException(
            ErrorCode.REGISTRY_NOT_FOUND,
            "the repository "
                + name()
                + " does not exist; check its spelling ('skopeo list-tags docker://"
                + name()
                + "' lists what it holds)");
      }
      throw e;
    }
    try (Closing r = closeable(response)) {
      byte[] body = readSmall(r.response().body(), MAX_MANIFEST, what);
      return new Fetched(
          body,
          r.response().headers().firstValue("content-type").orElse(""),
          sha256(body),
          r.response().headers().firstValue("docker-content-digest").map(String::strip));
    }
  }

  /**
   * Whether the repository exists: some registries answer a missing repository's manifest with
   * {@code MANIFEST_UNKNOWN} as for a missing tag, but its tag list with a 404.
   */
  private boolean repositoryExists() {
    try (Closing r =
        closeable(send("v2/" + repository + "/tags/list?n=1", "application/json", "tags"))) {
      return true;
    } catch (ControllerException e) {
      return e.code() != ErrorCode.REGISTRY_NOT_FOUND;
    }
  }

  /**
   * Streams the blob {@code digest} of {@code size} bytes into {@code target}, checking both as it
   * goes.
   *
   * @param progress told the bytes received so far
   * @throws ControllerException {@code REGISTRY_DIGEST_MISMATCH} if the bytes are not those named
   */
  void blob(String digest, long size, Path target, Progress progress) {
    String what = "blob " + digest + " of " + name();
    MessageDigest sha = sha256();
    long received = 0;
    AtomicLong lastRead = new AtomicLong(System.nanoTime());
    ScheduledFuture<?> watchdog = watch(lastRead);
    try (Closing r = closeable(send("v2/" + repository + "/blobs/" + digest, "*/*", what));
        InputStream in = r.response().body();
        FileChannel out =
            FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      byte[] buffer = new byte[CHUNK];
      int n;
      while ((n = in.read(buffer, 0, (int) Math.min(buffer.length, size - received + 1))) > 0) {
        lastRead.set(System.nanoTime());
        received += n;
        if (received > size) {
          throw mismatch(what, "it is longer than the " + size + " bytes its manifest states");
        }
        sha.update(buffer, 0, n);
        out.write(java.nio.ByteBuffer.wrap(buffer, 0, n));
        progress.received(n);
      }
      out.force(false);
    } catch (IOException e) {
      throw unreachable(what, e);
    } finally {
      watchdog.cancel(false);
    }
    if (received < size) {
      throw new ControllerException(
          ErrorCode.REGISTRY_UNREACHABLE,
          "the registry "
              + settings.host()
              + " sent "
              + received
              + " of the "
              + size
              + " bytes of "
              + what
              + "; the connection broke: mirror the image again");
    }
    String actual = "sha256:" + HexFormat.of().formatHex(sha.digest());
    if (!actual.equals(digest)) {
      throw mismatch(what, "its bytes have digest " + actual);
    }
  }

  /** Told the bytes of a blob as they arrive. */
  @FunctionalInterface
  interface Progress {
    Progress NONE = n -> {};

    void received(long bytes);
  }

  @Override
  public void close() {
    http.shutdownNow();
    http.close();
  }

  private String name() {
    return settings.host() + "/" + repository;
  }

  private ScheduledFuture<?> watch(AtomicLong lastRead) {
    long stall = timeouts.stall().toNanos();
    long period = Math.max(100, timeouts.stall().toMillis() / 4);
    return timer.scheduleAtFixedRate(
        () -> {
          if (System.nanoTime() - lastRead.get() > stall) {
            // Reads from the JDK client's body stream do not time out: ending the client does.
            http.shutdownNow();
          }
        },
        period,
        period,
        TimeUnit.MILLISECONDS);
  }

  /**
   * Sends a GET, answering a {@code 401} challenge once and following redirects (credentials only
   * to the registry's own host), and maps failures to error codes. The caller closes the body.
   */
  private HttpResponse<InputStream> send(String path, String accept, String what) {
    URI uri = base.resolve(path);
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      HttpRequest.Builder req =
          HttpRequest.newBuilder(uri).timeout(timeouts.answer()).header("Accept", accept).GET();
      boolean own = sameOrigin(uri);
      if (own) {
        authorization.ifPresent(a -> req.header("Authorization", a));
      }
      HttpResponse<InputStream> r;
      try {
        r = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
      } catch (IOException e) {
        throw unreachable(what, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ControllerException(ErrorCode.UNAVAILABLE, "interrupted while fetching " + what);
      }
      int status = r.statusCode();
      if (status == 401 && own && !challenged) {
        challenged = true;
        String header = r.headers().firstValue("www-authenticate").orElse("");
        discard(r);
        authorize(AuthChallenge.parse(header), what);
        hop--;
        continue;
      }
      if (status >= 300 && status < 400 && r.headers().firstValue("location").isPresent()) {
        URI next = uri.resolve(r.headers().firstValue("location").orElseThrow());
        discard(r);
        if (uri.getScheme().equals("https") && !"https".equals(next.getScheme())) {
          throw new ControllerException(
              ErrorCode.REGISTRY_RESPONSE_INVALID,
              "the registry " + settings.host() + " redirected " + what + " from HTTPS to " + next);
        }
        uri = next;
        continue;
      }
      if (status == 200) {
        return r;
      }
      String problem = errorCodes(r);
      throw failure(status, problem, what);
    }
    throw new ControllerException(
        ErrorCode.REGISTRY_RESPONSE_INVALID,
        "the registry " + settings.host() + " redirected " + what + " more than 5 times");
  }

  private void authorize(List<AuthChallenge> challenges, String what) {
    Optional<AuthChallenge> bearer =
        challenges.stream().filter(c -> c.scheme().equals("bearer")).findFirst();
    if (bearer.isPresent()) {
      authorization = Optional.of("Bearer " + token(bearer.get(), what));
      return;
    }
    if (challenges.stream().anyMatch(c -> c.scheme().equals("basic"))) {
      authorization = Optional.of(basic().orElseThrow(() -> needsCredentials(what)));
      return;
    }
    throw new ControllerException(
        ErrorCode.REGISTRY_UNAUTHORIZED,
        "the registry "
            + settings.host()
            + " asks for authentication the controller does not speak (neither Bearer nor"
            + " Basic) for "
            + what);
  }

  /** A token from the challenge's realm for pulling this repository. */
  private String token(AuthChallenge challenge, String what) {
    String realm = challenge.param("realm").orElse("");
    URI realmUri;
    try {
      realmUri = URI.create(realm);
    } catch (IllegalArgumentException e) {
      realmUri = URI.create("invalid:/");
    }
    String scheme = String.valueOf(realmUri.getScheme()).toLowerCase(Locale.ROOT);
    if (!scheme.equals("https") && !(scheme.equals("http") && settings.insecure())) {
      throw new ControllerException(
          ErrorCode.REGISTRY_RESPONSE_INVALID,
          "the registry "
              + settings.host()
              + " names the token service '"
              + realm
              + "', which is not an HTTPS URL; the controller sends no credentials there");
    }
    StringBuilder query = new StringBuilder();
    challenge.param("service").ifPresent(s -> query.append("service=").append(encode(s)));
    String scope = challenge.param("scope").orElse("repository:" + repository + ":pull");
    query.append(query.isEmpty() ? "" : "&").append("scope=").append(encode(scope));
    URI uri = URI.create(realm + (realm.contains("?") ? "&" : "?") + query);
    HttpRequest.Builder req =
        HttpRequest.newBuilder(uri).timeout(timeouts.answer()).header("Accept", "application/json");
    basic().ifPresent(b -> req.header("Authorization", b));
    String tokenWhat = "a token for " + what + " from " + realm;
    HttpResponse<InputStream> r;
    try {
      r = http.send(req.GET().build(), HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw unreachable(tokenWhat, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ControllerException(ErrorCode.UNAVAILABLE, "interrupted while fetching a token");
    }
    if (r.statusCode() == 401 || r.statusCode() == 403) {
      discard(r);
      throw basic().isPresent() ? refused(what) : needsCredentials(what);
    }
    if (r.statusCode() != 200) {
      discard(r);
      throw failure(r.statusCode(), "", tokenWhat);
    }
    byte[] body;
    try (InputStream in = r.body()) {
      body = readSmall(in, MAX_SMALL_BODY, tokenWhat);
    } catch (IOException e) {
      throw unreachable(tokenWhat, e);
    }
    try {
      JsonNode json = JSON.readTree(body);
      String token = json.path("token").asText(json.path("access_token").asText(""));
      if (!token.isEmpty() && token.length() < MAX_SMALL_BODY) {
        return token;
      }
    } catch (IOException e) {
      // Falls through to the refusal below.
    }
    throw new ControllerException(
        ErrorCode.REGISTRY_RESPONSE_INVALID,
        "the token service " + realm + " answered without a token");
  }

  private Optional<String> basic() {
    if (settings.username().isEmpty()) {
      return Optional.empty();
    }
    Path file = settings.passwordFile().orElseThrow();
    String password;
    try {
      password = Files.readString(file).strip();
    } catch (IOException e) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "cannot read the password of registry "
              + settings.host()
              + " from "
              + file
              + " (passwordFile in registries.yaml): "
              + e.getMessage());
    }
    return Optional.of(
        "Basic "
            + Base64.getEncoder()
                .encodeToString(
                    (settings.username().get() + ":" + password).getBytes(StandardCharsets.UTF_8)));
  }

  private boolean sameOrigin(URI uri) {
    return uri.getScheme().equals(base.getScheme())
        && uri.getRawAuthority().equalsIgnoreCase(base.getRawAuthority());
  }

  /** The error codes of a distribution error body ({@code {"errors":[{"code":...}]}}), if any. */
  private static String errorCodes(HttpResponse<InputStream> r) {
    try (InputStream in = r.body()) {
      byte[] body = in.readNBytes(MAX_SMALL_BODY);
      JsonNode errors = JSON.readTree(body).path("errors");
      StringBuilder codes = new StringBuilder();
      for (JsonNode e : errors) {
        codes.append(codes.isEmpty() ? "" : ",").append(e.path("code").asText(""));
      }
      return codes.toString();
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }

  private ControllerException failure(int status, String codes, String what) {
    return switch (status) {
      case 401 -> basic().isPresent() ? refused(what) : needsCredentials(what);
      case 403 -> refused(what);
      case 404 -> {
        String why =
            codes.contains("NAME_UNKNOWN")
                ? "the repository "
                    + name()
                    + " does not exist; check its spelling ('skopeo list-tags docker://"
                    + name()
                    + "' lists what it holds)"
                : codes.contains("MANIFEST_UNKNOWN")
                    ? "the registry has no " + what + "; check the tag or digest"
                    : "the registry has no " + what;
        yield new ControllerException(ErrorCode.REGISTRY_NOT_FOUND, why);
      }
      case 429 ->
          new ControllerException(
              ErrorCode.REGISTRY_UNREACHABLE,
              "the registry " + settings.host() + " limits requests (429); try again later");
      default ->
          status >= 500
              ? new ControllerException(
                  ErrorCode.REGISTRY_UNREACHABLE,
                  "the registry "
                      + settings.host()
                      + " failed with HTTP "
                      + status
                      + " for "
                      + what
                      + "; try again later")
              : new ControllerException(
                  ErrorCode.REGISTRY_RESPONSE_INVALID,
                  "the registry "
                      + settings.host()
                      + " answered HTTP "
                      + status
                      + (codes.isEmpty() ? "" : " (" + codes + ")")
                      + " for "
                      + what);
    };
  }

  private ControllerException needsCredentials(String what) {
    return new ControllerException(
        ErrorCode.REGISTRY_UNAUTHORIZED,
        "the registry "
            + settings.host()
            + " wants credentials for "
            + what
            + ": add username and passwordFile for host "
            + settings.host()
            + " to registries.yaml in the controller's data directory");
  }

  private ControllerException refused(String what) {
    return new ControllerException(
        ErrorCode.REGISTRY_UNAUTHORIZED,
        "the registry "
            + settings.host()
            + " refused the credentials of user "
            + settings.username().orElse("(none)")
            + " for "
            + what
            + "; check username and passwordFile in registries.yaml and that the user may pull"
            + " this repository");
  }

  private ControllerException unreachable(String what, IOException e) {
    String hint;
    if (e instanceof SSLException) {
      hint =
          "the TLS handshake failed ("
              + e.getMessage()
              + "): if the registry's certificate comes from a private CA, give it as caFile in"
              + " registries.yaml; if the registry serves plain HTTP, list it there with insecure:"
              + " true";
    } else if (e instanceof HttpTimeoutException || e instanceof InterruptedIOException) {
      hint =
          "it did not answer in time; check that it is up and reachable from the controller"
              + (settings.insecure()
                  ? ""
                  : " (a registry that serves plain HTTP does not answer HTTPS: list it in"
                      + " registries.yaml with insecure: true)");
    } else if (e instanceof ConnectException) {
      hint = "the connection was refused or timed out; check the host, the port and the network";
    } else {
      hint =
          "the connection failed ("
              + e.getClass().getSimpleName()
              + (e.getMessage() == null ? "" : ": " + e.getMessage())
              + ") or stalled for more than "
              + timeouts.stall().toSeconds()
              + " s";
    }
    return new ControllerException(
        ErrorCode.REGISTRY_UNREACHABLE, "cannot fetch " + what + " from " + base + ": " + hint, e);
  }

  private ControllerException mismatch(String what, String why) {
    return new ControllerException(
        ErrorCode.REGISTRY_DIGEST_MISMATCH,
        "the registry "
            + settings.host()
            + " sent a "
            + what
            + " that is not what it names: "
            + why
            + ". Nothing was stored; the registry's storage may be damaged, or something between"
            + " it and the controller changes what it sends");
  }

  private byte[] readSmall(InputStream in, int max, String what) {
    try (in) {
      byte[] body = in.readNBytes(max + 1);
      if (body.length > max) {
        throw new ControllerException(
            ErrorCode.REGISTRY_RESPONSE_INVALID,
            "the registry sent more than " + max + " bytes for " + what);
      }
      return body;
    } catch (IOException e) {
      throw unreachable(what, e);
    }
  }

  private static void discard(HttpResponse<InputStream> r) {
    try {
      r.body().close();
    } catch (IOException e) {
      // The connection is dropped instead of reused; nothing to report.
    }
  }

  /** A response whose body is closed with the try-with-resources block. */
  private static Closing closeable(HttpResponse<InputStream> r) {
    return new Closing(r);
  }

  private record Closing(HttpResponse<InputStream> response) implements AutoCloseable {
    @Override
    public void close() {
      discard(response);
    }
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  static String sha256(byte[] data) {
    return "sha256:" + HexFormat.of().formatHex(sha256().digest(data));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private SSLContext trusting(Path caFile) {
    try {
      return TrustedCas.sslContext(caFile);
    } catch (IOException | GeneralSecurityException e) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          "cannot use "
              + caFile
              + " as the CA of registry "
              + settings.host()
              + " (caFile in registries.yaml): "
              + e.getMessage()
              + "; give a PEM file of CA certificates");
    }
  }
}
