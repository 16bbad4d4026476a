package io.edgefleet.testkit.s3;

import io.edgefleet.controller.artifacts.s3.S3Options;
import io.edgefleet.testkit.LocalTls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real S3-compatible server for tests: S3Proxy (its self-contained jar, copied by the testkit's
 * build into {@code target/s3proxy/}) in its own JVM, on a free port of 127.0.0.1, over http or TLS
 * with a test CA, keeping objects as files. It checks every request's Signature Version 4 against
 * its one identity ({@link #ACCESS_KEY}, {@link #SECRET_KEY}).
 */
public final class S3Server implements AutoCloseable {
  public static final String ACCESS_KEY = "edgefleet-test";
  public static final String SECRET_KEY = "edgefleet-test-secret";

  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final Path dir;
  private final String bucket;
  private final Optional<LocalTls> tls;
  private final int port;
  private final Process process;

  /** The S3Proxy jar: {@code EDGEFLEET_S3PROXY_JAR}, or where the testkit's build copies it. */
  public static Path jar() {
    String told = System.getenv("EDGEFLEET_S3PROXY_JAR");
    if (told != null && !told.isBlank()) {
      return Path.of(told);
    }
    return Path.of(System.getProperty("user.dir"), "target", "s3proxy", "s3proxy.jar");
  }

  /** Starts a server holding the (empty) bucket {@code bucket}; over TLS when {@code tls}. */
  public static S3Server start(Path dir, String bucket, boolean tls) {
    Path jar = jar();
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(
          jar
              + " is missing: the testkit's build copies it (./mvnw -pl testkit"
              + " generate-test-resources), or set EDGEFLEET_S3PROXY_JAR");
    }
    try {
      return new S3Server(dir.toAbsolutePath(), bucket, tls, jar);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the S3 server", e);
    }
  }

  private S3Server(Path dir, String bucket, boolean withTls, Path jar) throws IOException {
    this.dir = dir;
    this.bucket = bucket;
    Files.createDirectories(dir.resolve("data").resolve(bucket));
    this.tls =
        withTls ? Optional.of(LocalTls.issue(dir, "s3", "edgefleet test S3 CA")) : Optional.empty();
    this.port = freePort();
    StringBuilder p = new StringBuilder();
    String url = "://127.0.0.1:" + port;
    if (tls.isPresent()) {
      p.append("s3proxy.secure-endpoint=https").append(url).append('\n');
      p.append("s3proxy.keystore-path=").append(tls.get().keyStore()).append('\n');
      p.append("s3proxy.keystore-password=").append(LocalTls.KEY_STORE_PASSWORD).append('\n');
    } else {
      p.append("s3proxy.endpoint=http").append(url).append('\n');
    }
    p.append("s3proxy.authorization=aws-v2-or-v4\n");
    p.append("s3proxy.identity=").append(ACCESS_KEY).append('\n');
    p.append("s3proxy.credential=").append(SECRET_KEY).append('\n');
    p.append("jclouds.provider=filesystem\n");
    p.append("jclouds.filesystem.basedir=").append(dir.resolve("data")).append('\n');
    p.append("jclouds.identity=local\njclouds.credential=local\n");
    Path properties = dir.resolve("s3proxy.properties");
    Files.writeString(properties, p.toString());
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(System.getProperty("java.home") + "/bin/java");
    Path log = dir.resolve("s3proxy.log");
    this.process =
        new ProcessBuilder(
                java,
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-jar",
                jar.toString(),
                "--properties",
                properties.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      awaitListening(log);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private void awaitListening(Path log) {
    Instant deadline = Instant.now().plus(START_TIMEOUT);
    try {
      while (true) {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
          return;
        } catch (IOException notYet) {
          // Not listening yet.
        }
        // Waiting on the process both paces the polls and notices at once when it dies.
        if (process.waitFor(50, TimeUnit.MILLISECONDS)) {
          throw new IllegalStateException(
              "S3Proxy exited with " + process.exitValue() + ": " + Files.readString(log));
        }
        if (Instant.now().isAfter(deadline)) {
          throw new IllegalStateException(
              "S3Proxy did not listen within " + START_TIMEOUT + ": " + Files.readString(log));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while S3Proxy starts", e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** The service's base URL. */
  public URI endpoint() {
    return URI.create((tls.isPresent() ? "https" : "http") + "://127.0.0.1:" + port);
  }

  /** The CA to trust for the TLS endpoint. */
  public Optional<Path> caFile() {
    return tls.map(LocalTls::ca);
  }

  public String bucket() {
    return bucket;
  }

  /** Options for a store in this server's bucket under {@code prefix}, with the right key. */
  public S3Options options(String prefix) {
    return new S3Options(
        endpoint(),
        bucket,
        prefix,
        S3Options.DEFAULT_REGION,
        new S3Options.Credentials(ACCESS_KEY, SECRET_KEY, Optional.empty()),
        caFile());
  }

  /** The keys of the objects in the bucket (the server keeps each as a file named by its key). */
  public List<String> keys() {
    Path root = dir.resolve("data").resolve(bucket);
    try (Stream<Path> files = Files.walk(root)) {
      return files
          .filter(Files::isRegularFile)
          .map(f -> root.relativize(f).toString())
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
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
  }
}
