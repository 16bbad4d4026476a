package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI server over a real loopback socket, spoken to as the {@code ./edgefleet} script speaks to
 * it: calls run as the caller's invocation (directory, environment, terminals), what needs the
 * caller's own process is handed back before anything runs, and a caller without the secret gets
 * nothing.
 */
class CliServerTest {
  @TempDir Path dir;
  CliServer server;
  Path file;

  @BeforeEach
  void start() throws IOException {
    file = dir.resolve("server/server");
    server = CliServer.start(file);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void theServerFileHoldsPortAndSecretAndOnlyItsUserCanReadIt() throws IOException {
    String[] parts = Files.readString(file).strip().split(" ");
    assertThat(Integer.parseInt(parts[0])).isEqualTo(server.port());
    assertThat(parts[1]).isEqualTo(server.secret()).hasSize(64);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
  }

  @Test
  void aVerbRunsAndItsOutputAndExitCodeComeBack() throws IOException {
    List<String> frames = call(server.secret(), dir, "00", Map.of(), "--version");

    assertThat(frames).first().isEqualTo("A");
    assertThat(String.join("", out(frames, 'O'))).startsWith("edgefleet ");
    assertThat(frames).last().isEqualTo("X0");
  }

  @Test
  void relativePathsMeanTheCallersDirectory() throws IOException {
    Path caller = Files.createDirectories(dir.resolve("caller"));

    List<String> frames =
        call(
            server.secret(),
            caller,
            "00",
            Map.of("HOME", dir.toString()),
            "deploy",
            "web@1.0.0",
            "--target",
            "*",
            "--rollout",
            "policy.yaml");

    assertThat(String.join("", out(frames, 'E')))
        .contains("cannot read rollout policy " + caller.resolve("policy.yaml"));
    assertThat(frames).last().isEqualTo("X2");
  }

  @Test
  void theCallersEnvironmentIsTheOneTheVerbSees() throws IOException {
    Path config = dir.resolve("nowhere/cli-config.json");

    List<String> frames =
        call(
            server.secret(),
            dir,
            "00",
            Map.of("EDGEFLEET_CONFIG", config.toString(), "HOME", dir.toString()),
            "devices",
            "list");

    assertThat(String.join("", out(frames, 'E'))).contains(config.toString());
    assertThat(frames).last().isNotEqualTo("X0");
  }

  @Test
  void whatOnlyTheCallersProcessCanDoIsHandedBackBeforeAnythingRuns() throws IOException {
    // Following until Ctrl-C.
    assertThat(call(server.secret(), dir, "11", Map.of(), "rollouts", "status", "r-1", "--watch"))
        .containsExactly("A", "F");
    assertThat(call(server.secret(), dir, "11", Map.of(), "events", "-f"))
        .containsExactly("A", "F");
    // A question on the caller's terminal.
    assertThat(
            call(
                server.secret(),
                dir,
                "11",
                Map.of("HOME", dir.toString()),
                "devices",
                "decommission",
                "dev-1"))
        .containsExactly("A", "F");
    // With --yes, or without a terminal to ask on, nothing is asked: the verb runs (and here
    // stops at the missing controller configuration).
    assertThat(
            call(
                server.secret(),
                dir,
                "00",
                Map.of("HOME", dir.toString()),
                "devices",
                "decommission",
                "dev-1"))
        .last()
        .isEqualTo("X2");
  }

  @Test
  void aCallerWithoutTheSecretGetsNothing() throws IOException {
    String wrong = "0".repeat(64);
    assertThat(call(wrong, dir, "00", Map.of(), "--version")).isEmpty();
    // Malformed requests are closed the same way.
    assertThat(raw(server.secret() + "\0" + dir + "\0" + "00\0" + "99999999\0")).isEmpty();
    assertThat(raw("garbage without a terminator")).isEmpty();
    // The server still serves its caller.
    assertThat(call(server.secret(), dir, "00", Map.of(), "--version")).last().isEqualTo("X0");
  }

  @Test
  void theScriptsClientPassesArgumentsAsTypedAndReturnsOutputErrorsAndExitCodes() throws Exception {
    Path caller = Files.createDirectories(dir.resolve("caller dir"));

    Script version = script(caller, "--version");
    assertThat(version.out()).startsWith("edgefleet ");
    assertThat(version.code()).isZero();

    // An empty argument, spaces, and a relative path with a space all arrive as typed.
    Script deploy =
        script(caller, "deploy", "web@1.0.0", "--target", "", "--rollout", "my policy.yaml");
    assertThat(deploy.err())
        .contains("error: cannot read rollout policy " + caller.resolve("my policy.yaml"));
    assertThat(deploy.code()).isEqualTo(2);

    Script unknown = script(caller, "devices", "frobnicate", "nope");
    assertThat(unknown.err()).startsWith("error: Unmatched arguments");
    assertThat(unknown.code()).isEqualTo(2);

    // Handed back: the script runs the verb in a JVM of its own (200: not served).
    assertThat(script(caller, "events", "-f").code()).isEqualTo(200);
  }

  @Test
  void theScriptsClientRunsTheVerbItselfWhenTheServerIsStaleOrRefusesIt() throws Exception {
    // A server file older than the distribution is not used.
    Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
    Files.setLastModifiedTime(jar(), FileTime.fromMillis(System.currentTimeMillis()));
    assertThat(script(dir, "--version").code()).isEqualTo(200);

    // A secret that is not the server's: closed before the call is taken.
    Files.writeString(file, server.port() + " " + "0".repeat(64) + " 1\n");
    Files.setLastModifiedTime(jar(), FileTime.fromMillis(System.currentTimeMillis() - 60_000));
    assertThat(script(dir, "--version").code()).isEqualTo(200);
  }

  record Script(String out, String err, int code) {}

  private Path jar() throws IOException {
    Path jar = dir.resolve("edgefleet-launcher.jar");
    if (!Files.exists(jar)) {
      Files.writeString(jar, "");
      Files.setLastModifiedTime(jar, FileTime.fromMillis(System.currentTimeMillis() - 60_000));
    }
    return jar;
  }

  /** {@code served_call ARGS} of bin/cli-server.sh, as ./edgefleet runs it, from {@code cwd}. */
  private Script script(Path cwd, String... args) throws Exception {
    Path client = Path.of("..", "bin", "cli-server.sh").toAbsolutePath().normalize();
    List<String> command = new ArrayList<>(List.of("bash", "-c", ". \"$0\"; served_call \"$@\""));
    command.add(client.toString());
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(cwd.toFile());
    pb.environment().put("CLI_SERVER_DIR", file.getParent().toString());
    pb.environment().put("JAR", jar().toString());
    pb.environment().put("EDGEFLEET_CLI_SERVER", "on");
    pb.environment().put("HOME", dir.toString());
    pb.environment().remove("EDGEFLEET_CONFIG");
    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Path out = dir.resolve("script.out");
    Path err = dir.resolve("script.err");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Script(Files.readString(out), Files.readString(err), p.exitValue());
  }

  // ---------------------------------------------------------------------------------------------

  private List<String> call(
      String secret, Path cwd, String flags, Map<String, String> env, String... args)
      throws IOException {
    StringBuilder req = new StringBuilder();
    req.append(secret).append('\0').append(cwd).append('\0').append(flags).append('\0');
    req.append(env.size()).append('\0');
    env.forEach((k, v) -> req.append(k).append('=').append(v).append('\0'));
    req.append(args.length).append('\0');
    for (String a : args) {
      req.append(a).append('\0');
    }
    return raw(req.toString());
  }

  /** Sends the bytes, half-closes, and returns the answer's frames (without their NULs). */
  private List<String> raw(String request) throws IOException {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
      s.setSoTimeout(30_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
      s.getOutputStream().flush();
      s.shutdownOutput();
      InputStream in = s.getInputStream();
      List<String> frames = new ArrayList<>();
      ByteArrayOutputStream frame = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) >= 0) {
        if (b == 0) {
          frames.add(frame.toString(StandardCharsets.UTF_8));
          frame.reset();
        } else {
          frame.write(b);
        }
      }
      return frames;
    }
  }

  private static List<String> out(List<String> frames, char stream) {
    return frames.stream()
        .filter(f -> !f.isEmpty() && f.charAt(0) == stream)
        .map(f -> f.substring(1))
        .toList();
  }
}
