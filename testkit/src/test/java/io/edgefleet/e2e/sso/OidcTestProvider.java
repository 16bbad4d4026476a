package io.edgefleet.e2e.sso;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URL;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A real OpenID Connect provider (Spring Authorization Server, module {@code testkit-oidc}) run as
 * a child JVM on a loopback port, with these users and public clients.
 */
final class OidcTestProvider implements AutoCloseable {
  private final Process process;
  private final int port;
  private final Path log;

  /** A user: name, password, groups. */
  record User(String name, String password, List<String> groups) {}

  /** A public client; redirect URI empty for a client of the device grant only. */
  record Client(String id, String redirectUri) {}

  private OidcTestProvider(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Starts the provider on {@code port} and waits until its discovery document answers. */
  static OidcTestProvider start(Path dir, int port, List<User> users, List<Client> clients) {
    String issuer = "http://127.0.0.1:" + port;
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx256m");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    cmd.add(classpath());
    cmd.add("io.edgefleet.testkit.oidc.OidcProviderApp");
    cmd.add("--server.port=" + port);
    cmd.add("--server.address=127.0.0.1");
    cmd.add("--oidc.issuer=" + issuer);
    cmd.add("--oidc.exit-with-parent=true");
    cmd.add(
        "--oidc.users="
            + users.stream()
                .map(u -> u.name() + ":" + u.password() + ":" + String.join("|", u.groups()))
                .collect(Collectors.joining(";")));
    cmd.add(
        "--oidc.clients="
            + clients.stream()
                .map(c -> c.id() + ":" + c.redirectUri())
                .collect(Collectors.joining(";")));
    Path log = dir.resolve("oidc-provider.log");
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    OidcTestProvider provider = new OidcTestProvider(p, port, log);
    try {
      HttpClient http = HttpClient.newHttpClient();
      await("the OIDC provider answers")
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofMillis(250))
          .ignoreExceptions()
          .until(
              () -> {
                if (!p.isAlive()) {
                  throw new AssertionError("the OIDC provider exited: " + Files.readString(log));
                }
                return http.send(
                            HttpRequest.newBuilder(
                                    URI.create(issuer + "/.well-known/openid-configuration"))
                                .build(),
                            HttpResponse.BodyHandlers.discarding())
                        .statusCode()
                    == 200;
              });
    } catch (RuntimeException | Error e) {
      provider.close();
      throw e;
    }
    return provider;
  }

  /** The provider's jar (or classes) and its dependencies, as written at build time. */
  private static String classpath() {
    String resource = "io/edgefleet/testkit/oidc/classpath.txt";
    URL url = OidcTestProvider.class.getClassLoader().getResource(resource);
    if (url == null) {
      throw new IllegalStateException(
          resource + " is not on the test classpath: build the testkit-oidc module first");
    }
    String own;
    String text = url.toString();
    if (text.startsWith("jar:file:")) {
      own =
          URLDecoder.decode(
              text.substring("jar:file:".length(), text.indexOf("!/")), StandardCharsets.UTF_8);
    } else {
      own =
          URLDecoder.decode(
              text.substring("file:".length(), text.length() - resource.length()),
              StandardCharsets.UTF_8);
    }
    try (InputStream in = url.openStream()) {
      return own
          + java.io.File.pathSeparator
          + new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String issuer() {
    return "http://127.0.0.1:" + port;
  }

  /** Replaces the provider's signing key; answers the new key id. */
  String rotateKey() {
    try {
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create(issuer() + "/test/rotate-key"))
                      .POST(HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      JsonNode body = Json.mapper().readTree(r.body());
      return body.path("kid").asText();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
