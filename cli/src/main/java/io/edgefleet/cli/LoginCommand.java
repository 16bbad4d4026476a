package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code edgefleet login}: checks an API token against the controller and stores it, with the
 * controller's URL and CA fingerprint, in the CLI config file every other verb reads.
 */
@Command(
    name = "login",
    description = {
      "Store an API token for the controller in the CLI config file, after checking it.",
      "Without --token the token is read from standard input (one line), so it stays out of the"
          + " shell history. --server and --ca-fingerprint default to the config file's.",
      "With --sso, sign in through the controller's identity provider instead: open the URL"
          + " shown, enter the code, and the token given for the sign-in is stored."
    })
final class LoginCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--server",
      paramLabel = "URL",
      description = "Controller URL, e.g. https://127.0.0.1:7443 (env EDGEFLEET_SERVER).")
  String server;

  @Option(
      names = {"--token", "--api-token"},
      paramLabel = "TOKEN",
      description = "The API token; read from standard input when absent.")
  String token;

  @Option(
      names = "--sso",
      description =
          "Single sign-on: sign in at the controller's OpenID Connect provider (device code flow).")
  boolean sso;

  @Option(
      names = "--ca-fingerprint",
      paramLabel = "sha256:HEX",
      description = "Fingerprint of the controller's CA to pin (env EDGEFLEET_CA_FINGERPRINT).")
  String caFingerprint;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "CLI config file to write (env EDGEFLEET_CONFIG; default ~/"
              + ConnectionOptions.DEFAULT_CONFIG
              + ").")
  Path config;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "table|json",
      defaultValue = "table",
      converter = ConnectionOptions.OutputConverter.class,
      description = "Output format: table (default) or json (who you are, as whoami answers).")
  ConnectionOptions.Output output = ConnectionOptions.Output.TABLE;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      Invocation caller = Invocation.current();
      Map<String, String> env = caller.env();
      Path file = configPath(env, caller.home());
      ObjectNode stored = read(file);
      String url = first(server, env.get("EDGEFLEET_SERVER"), Formats.text(stored, "server"));
      String fingerprint =
          first(
              caFingerprint,
              env.get("EDGEFLEET_CA_FINGERPRINT"),
              Formats.text(stored, "caFingerprint"));
      if (url == null) {
        throw CliException.usage(
            "no controller to log in to: pass --server https://HOST:PORT (and --ca-fingerprint)");
      }
      if (sso && token != null) {
        throw CliException.usage("--sso and --token exclude each other: give one");
      }
      ConnectionOptions options = new ConnectionOptions();
      options.server = url;
      options.caFingerprint = fingerprint;
      String secret;
      if (sso) {
        // The controller's SSO routes need no token: the sign-in is how one is got.
        Connection anonymous =
            options.resolve(Optional.of("-"), Map.of(), caller.home().resolve(".no-config"));
        secret = new SsoLogin().run(anonymous, err).token();
      } else {
        secret = token != null ? token.strip() : readToken(err);
      }
      // Flags only: the config file being written is not read again here.
      Connection connection =
          options.resolve(Optional.of(secret), Map.of(), caller.home().resolve(".no-config"));
      JsonNode me;
      try (ControllerClient api = new ControllerClient(connection)) {
        me = api.get(AccessCommands.WHOAMI);
      }
      stored.put("server", connection.server().toString());
      stored.put("token", secret);
      stored.put("caFingerprint", connection.caFingerprint());
      write(file, stored);
      if (output == ConnectionOptions.Output.JSON) {
        out.print(Json.pretty(me) + "\n");
        err.println("saved in " + file);
      } else {
        out.println(summary(me, connection, file, Instant.now()));
      }
      return 0;
    } catch (CliException e) {
      err.println("error: " + e.getMessage());
      return e.exitCode();
    } finally {
      out.flush();
      err.flush();
    }
  }

  static String summary(JsonNode me, Connection connection, Path file, Instant now) {
    JsonNode token = me.path("token");
    String expiry =
        !token.isObject()
            ? "the bootstrap admin token does not expire"
            : token.hasNonNull("expiresAt")
                ? "the token expires " + Formats.timestamp(token, "expiresAt", now)
                : "the token does not expire";
    return "logged in to "
        + connection.server()
        + " as "
        + Formats.text(me, "name")
        + " ("
        + Formats.text(me, "kind")
        + ", roles: "
        + AccessCommands.list(me.path("roles"))
        + "); "
        + expiry
        + "\nsaved in "
        + file;
  }

  private Path configPath(Map<String, String> env, Path home) {
    if (config != null) {
      return config.toAbsolutePath();
    }
    String fromEnv = env.get("EDGEFLEET_CONFIG");
    if (fromEnv != null && !fromEnv.isBlank()) {
      return Path.of(fromEnv).toAbsolutePath();
    }
    return home.resolve(ConnectionOptions.DEFAULT_CONFIG);
  }

  private static String first(String... values) {
    for (String v : values) {
      if (v != null && !v.isBlank()) {
        return v.strip();
      }
    }
    return null;
  }

  private static ObjectNode read(Path file) {
    if (!Files.exists(file)) {
      return Json.mapper().createObjectNode();
    }
    try {
      JsonNode json = Json.mapper().readTree(file.toFile());
      if (json instanceof ObjectNode o) {
        return o;
      }
      throw CliException.usage("config file " + file + " does not hold a JSON object");
    } catch (IOException e) {
      throw CliException.usage("cannot read config file " + file + ": " + Formats.problem(e));
    }
  }

  /** One line from standard input; a terminal is asked first. */
  private static String readToken(PrintWriter err) {
    Invocation caller = Invocation.current();
    if (caller.served()) {
      // Standard input is the caller's, not this process's.
      throw new Invocation.NeedsOwnProcess("login reads the token from standard input");
    }
    if (caller.stdinTerminal()) {
      err.print("API token: ");
      err.flush();
    }
    String line;
    try {
      // Not closed: it is the process's standard input.
      line =
          new BufferedReader(new InputStreamReader(System.in, Charset.defaultCharset())).readLine();
    } catch (IOException e) {
      line = null;
    }
    if (line == null || line.isBlank()) {
      throw CliException.usage(
          "no token: pass --token or write it to standard input (echo $TOKEN | edgefleet login"
              + " --server URL); create one with `edgefleet tokens create`");
    }
    if (line.length() > 200) {
      throw CliException.usage("the token read from standard input is longer than 200 characters");
    }
    return line.strip();
  }

  /** Writes the config for the user alone (0600), replacing the file in one step. */
  private static void write(Path file, ObjectNode json) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = dir.resolve(file.getFileName() + ".tmp");
      Files.deleteIfExists(tmp);
      if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
        Files.createFile(
            tmp,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      }
      Files.writeString(tmp, Json.pretty(json) + "\n");
      try {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw CliException.failed("cannot write " + file + ": " + Formats.problem(e));
    }
  }
}
