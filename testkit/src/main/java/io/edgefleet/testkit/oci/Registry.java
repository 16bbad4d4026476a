package io.edgefleet.testkit.oci;

import io.edgefleet.testkit.LocalTls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * A real OCI distribution registry for tests: Debian's {@code docker-registry} ({@code
 * /usr/bin/docker-registry serve CONFIG.yml}, the CNCF distribution registry) on a free loopback
 * port, its storage in a directory of the test. Optionally HTTPS with a certificate from a CA made
 * for the test ({@link #caFile()}), and basic authentication from an htpasswd file with one user.
 * {@link #push} copies an image archive built by {@link OciImages} into it with {@code skopeo};
 * {@link #pushIndex} makes a multi-platform index of images pushed before.
 *
 * <p>{@link #close()} stops the registry and any process it started.
 */
public final class Registry implements AutoCloseable {
  /** Where Debian's {@code docker-registry} package puts the binary. */
  public static final Path BINARY = Path.of("/usr/bin/docker-registry");

  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

  private final Path dir;
  private final int port;
  private final Process process;
  private final Optional<Path> caFile;
  private final Optional<String[]> credentials;
  private final HttpClient http;

  /** How to start a registry. */
  public static final class Options {
    private boolean tls;
    private String user;
    private String password;

    /** HTTPS with a certificate for 127.0.0.1 issued by a test CA ({@link Registry#caFile()}). */
    public Options tls() {
      this.tls = true;
      return this;
    }

    /** Basic authentication: only this user may push and pull. */
    public Options user(String user, String password) {
      this.user = user;
      this.password = password;
      return this;
    }
  }

  /** A plain-HTTP registry without authentication, storing under {@code dir}. */
  public static Registry start(Path dir) {
    return start(dir, new Options());
  }

  public static Registry start(Path dir, Options options) {
    if (!Files.isExecutable(BINARY)) {
      throw new IllegalStateException(
          BINARY
              + " is missing: install Debian's docker-registry (apt-get install docker-registry)");
    }
    try {
      return new Registry(dir, options);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the registry", e);
    }
  }

  private Registry(Path dir, Options options) throws IOException {
    this.dir = dir.toAbsolutePath();
    Files.createDirectories(this.dir.resolve("storage"));
    this.port = freePort();
    StringBuilder config = new StringBuilder();
    config.append("version: 0.1\n");
    config.append("log:\n  level: warn\n  accesslog:\n    disabled: true\n");
    config
        .append("storage:\n  filesystem:\n    rootdirectory: ")
        .append(this.dir.resolve("storage"))
        .append("\n  delete:\n    enabled: true\n");
    config.append("http:\n  addr: 127.0.0.1:").append(port).append('\n');
    SSLContext trust = null;
    if (options.tls) {
      LocalTls tls = LocalTls.issue(this.dir, "registry", "edgefleet test registry CA");
      trust = tls.trust();
      config
          .append("  tls:\n    certificate: ")
          .append(tls.cert())
          .append("\n    key: ")
          .append(tls.key());
      config.append('\n');
      this.caFile = Optional.of(tls.ca());
    } else {
      this.caFile = Optional.empty();
    }
    if (options.user != null) {
      Path htpasswd = this.dir.resolve("htpasswd");
      byte[] salt = new byte[16];
      new SecureRandom().nextBytes(salt);
      // Cost 5 keeps a test's logins fast; the registry checks any cost.
      String hash = OpenBSDBCrypt.generate("2a", options.password.toCharArray(), salt, 5);
      Files.writeString(htpasswd, options.user + ":" + hash + "\n");
      config
          .append("auth:\n  htpasswd:\n    realm: test-registry\n    path: ")
          .append(htpasswd)
          .append('\n');
      this.credentials = Optional.of(new String[] {options.user, options.password});
    } else {
      this.credentials = Optional.empty();
    }
    Path configFile = this.dir.resolve("config.yml");
    Files.writeString(configFile, config.toString());
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2));
    if (trust != null) {
      b.sslContext(trust);
    }
    this.http = b.build();
    this.process =
        new ProcessBuilder(BINARY.toString(), "serve", configFile.toString())
            .redirectErrorStream(true)
            .redirectOutput(this.dir.resolve("registry.log").toFile())
            .start();
    try {
      awaitUp();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** {@code 127.0.0.1:PORT}: the registry's host as image references name it. */
  public String host() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  /** The test CA's certificate (PEM) when the registry serves HTTPS. */
  public Optional<Path> caFile() {
    return caFile;
  }

  /** Where the registry keeps its blobs: {@code <storage>/docker/registry/v2/blobs/sha256/..}. */
  public Path storage() {
    return dir.resolve("storage");
  }

  /** The file holding the bytes of blob {@code digest} in the registry's storage. */
  public Path blobFile(String digest) {
    String hex = digest.substring("sha256:".length());
    return storage()
        .resolve("docker/registry/v2/blobs/sha256")
        .resolve(hex.substring(0, 2))
        .resolve(hex)
        .resolve("data");
  }

  /**
   * Copies an oci-archive into the registry as {@code repo:tag} with {@code skopeo copy}.
   *
   * @return the manifest digest the registry holds for the tag
   */
  public String push(Path archive, String repoAndTag) {
    List<String> cmd = new ArrayList<>(List.of("skopeo", "copy", "--quiet"));
    if (caFile.isPresent()) {
      cmd.add("--dest-cert-dir=" + certDir());
    } else {
      cmd.add("--dest-tls-verify=false");
    }
    credentials.ifPresent(c -> cmd.add("--dest-creds=" + c[0] + ":" + c[1]));
    cmd.add("oci-archive:" + archive.toAbsolutePath());
    cmd.add("docker://" + host() + "/" + repoAndTag);
    run(cmd);
    int colon = repoAndTag.lastIndexOf(':');
    return manifestDigest(repoAndTag.substring(0, colon), repoAndTag.substring(colon + 1));
  }

  /**
   * Puts an OCI image index as {@code repo:tag} naming manifests already in {@code repo}, one per
   * architecture (all {@code linux}).
   *
   * @param manifests architecture to the manifest digest pushed for it
   * @return the index's digest
   */
  public String pushIndex(String repo, String tag, Map<String, String> manifests) {
    StringBuilder index =
        new StringBuilder(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                + "\"manifests\":[");
    int i = 0;
    for (Map.Entry<String, String> m : manifests.entrySet()) {
      byte[] manifest = get("/v2/" + repo + "/manifests/" + m.getValue()).body();
      index
          .append(i++ == 0 ? "" : ",")
          .append("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"")
          .append(m.getValue())
          .append("\",\"size\":")
          .append(manifest.length)
          .append(",\"platform\":{\"architecture\":\"")
          .append(m.getKey())
          .append("\",\"os\":\"linux\"}}");
    }
    byte[] body = index.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    HttpResponse<byte[]> r =
        send(
            request("/v2/" + repo + "/manifests/" + tag)
                .header("Content-Type", "application/vnd.oci.image.index.v1+json")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body))
                .build());
    if (r.statusCode() != 201) {
      throw new IllegalStateException(
          "the registry refused the index: HTTP "
              + r.statusCode()
              + " "
              + new String(r.body(), StandardCharsets.UTF_8));
    }
    return OciImages.sha256(body);
  }

  /** The digest of the manifest (or index) {@code repo:tag} names, as the registry reports it. */
  public String manifestDigest(String repo, String tag) {
    HttpResponse<byte[]> r = get("/v2/" + repo + "/manifests/" + tag);
    return r.headers()
        .firstValue("Docker-Content-Digest")
        .orElseThrow(() -> new IllegalStateException("no Docker-Content-Digest for " + tag));
  }

  /** A GET of {@code path} with the registry's credentials; throws unless it answers 200. */
  public HttpResponse<byte[]> get(String path) {
    HttpResponse<byte[]> r =
        send(
            request(path)
                .header(
                    "Accept",
                    "application/vnd.oci.image.index.v1+json,"
                        + " application/vnd.oci.image.manifest.v1+json,"
                        + " application/vnd.docker.distribution.manifest.v2+json,"
                        + " application/vnd.docker.distribution.manifest.list.v2+json")
                .GET()
                .build());
    if (r.statusCode() != 200) {
      throw new IllegalStateException("GET " + path + ": HTTP " + r.statusCode());
    }
    return r;
  }

  private HttpRequest.Builder request(String path) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(Duration.ofSeconds(30));
    credentials.ifPresent(
        c ->
            b.header(
                "Authorization",
                "Basic "
                    + Base64.getEncoder()
                        .encodeToString((c[0] + ":" + c[1]).getBytes(StandardCharsets.UTF_8))));
    return b;
  }

  private String baseUrl() {
    return (caFile.isPresent() ? "https://" : "http://") + host();
  }

  private HttpResponse<byte[]> send(HttpRequest request) {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A directory skopeo reads the CA from ({@code *.crt}). */
  private Path certDir() {
    Path certs = dir.resolve("certs.d");
    try {
      Files.createDirectories(certs);
      Files.copy(
          caFile.orElseThrow(),
          certs.resolve("ca.crt"),
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return certs;
  }

  private void awaitUp() {
    Instant deadline = Instant.now().plus(START_TIMEOUT);
    while (true) {
      try {
        HttpResponse<Void> r =
            http.send(
                HttpRequest.newBuilder(URI.create(baseUrl() + "/v2/"))
                    .timeout(Duration.ofSeconds(2))
                    .build(),
                HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200 || r.statusCode() == 401) {
          return;
        }
      } catch (IOException e) {
        // Not listening yet.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while the registry starts", e);
      }
      try {
        // Waiting on the process both paces the polls and notices at once when it dies.
        if (process.waitFor(100, TimeUnit.MILLISECONDS)) {
          throw new IllegalStateException(
              "the registry exited with " + process.exitValue() + ": " + log());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while the registry starts", e);
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException(
            "the registry did not answer /v2/ within " + START_TIMEOUT + ": " + log());
      }
    }
  }

  /** The registry's log so far. */
  public String log() {
    try {
      return Files.readString(dir.resolve("registry.log"));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  private static void run(List<String> cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(2, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", cmd) + " did not finish in 2 minutes");
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            String.join(" ", cmd)
                + " failed ("
                + p.exitValue()
                + "): "
                + new String(out, StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Stops the registry (and anything it started) and waits for it to end. */
  @Override
  public void close() {
    List<ProcessHandle> children = process.descendants().toList();
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
    children.forEach(ProcessHandle::destroyForcibly);
    http.close();
  }
}
