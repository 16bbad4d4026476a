package io.edgefleet.e2e.tunnels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentOptions;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.AdminClient.Answer;
import io.edgefleet.testkit.LinkProxy;
import io.edgefleet.testkit.MovableClock;
import io.edgefleet.testkit.TestAgents;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote shells end to end: the real CLI in a real terminal (tmux) drives a shell on a PTY of a
 * real agent through the controller; policy refusals, approval by a second person, recordings, file
 * copies and a cut link.
 */
@Timeout(300)
class ShellIT {
  @TempDir static Path dir;
  static MovableClock clock = MovableClock.startingAt(Instant.now());
  static TestController c;
  static AdminClient admin;
  static TestAgents agents;
  static LinkProxy link;
  static String open;
  static String closed;
  static String cut;
  static Agent cutAgent;

  @BeforeAll
  static void start() throws Exception {
    c = TestController.start(TestController.config(dir.resolve("controller")), clock);
    admin = c.admin();
    agents = new TestAgents(dir);
    link = LinkProxy.forUrl(c.url());
    open = enroll("open", c.url(), Set.of("shell", "file")).status().deviceId().orElseThrow();
    closed = enroll("closed", c.url(), Set.of()).status().deviceId().orElseThrow();
    cutAgent = enroll("cut", link.url(), Set.of("shell"));
    cut = cutAgent.status().deviceId().orElseThrow();
    // Operators may open shells on every device; the approval test adds its own role.
    assertThat(
            admin
                .post(
                    "/api/v1/shell-grants",
                    Map.of("role", "admin", "selector", "*", "validFor", "1d"))
                .status())
        .isEqualTo(201);
  }

  static Agent enroll(String name, String url, Set<String> allows) {
    String token = c.token(Map.of("name", name), null, false);
    AgentOptions o =
        agents
            .options(name, agents.bootstrap(name, url, c.caFingerprint(), token))
            .withRemoteAccess(allows);
    Agent a = agents.start(o);
    await().atMost(Duration.ofSeconds(30)).until(() -> a.status().deviceId().isPresent());
    String id = a.status().deviceId().orElseThrow();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> admin.get("/api/v1/devices/" + id).body(),
            d ->
                a.status().state() == Agent.State.CONNECTED
                    && d.path("facts").path("remoteAccess").size() == allows.size());
    return a;
  }

  @AfterAll
  static void stop() {
    if (agents != null) {
      agents.close();
    }
    if (link != null) {
      link.close();
    }
    if (c != null) {
      c.close();
    }
  }

  /** The CLI as a process: java with this test's class path. */
  static List<String> cli(String token, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(ShellCliMain.class.getName());
    cmd.addAll(List.of(args));
    cmd.addAll(
        List.of("--server", c.url(), "--ca-fingerprint", c.caFingerprint(), "--token", token));
    return cmd;
  }

  static String quote(List<String> words) {
    StringBuilder s = new StringBuilder();
    for (String w : words) {
      s.append('\'').append(w.replace("'", "'\\''")).append("' ");
    }
    return s.toString();
  }

  static String adminToken() {
    return c.controller().adminToken().orElseThrow();
  }

  /** Runs a command to its end and answers what it printed (standard output and error). */
  static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  static String pane(String session) throws Exception {
    return run("tmux", "capture-pane", "-p", "-t", session);
  }

  /** {width, height} of the session's pane. */
  static int[] paneSize(String session) throws Exception {
    String[] p =
        run("tmux", "display-message", "-p", "-t", session, "#{pane_width} #{pane_height}")
            .strip()
            .split(" ");
    return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
  }

  String resized;
  int[] firstSize;

  @Test
  void aShellInARealTerminalRunsCommandsFollowsResizesAndIsRecorded() throws Exception {
    String session = "efshell" + ProcessHandle.current().pid();
    Path exitFile = dir.resolve("shell-exit");
    Path script = dir.resolve("shell.sh");
    Files.writeString(
        script,
        "tmux set-option -t "
            + session
            + " status off\n"
            + quote(cli(adminToken(), "shell", open))
            + "\necho $? > "
            + exitFile
            + "\nsleep 600\n");
    run("tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", "sh " + script);
    int[] first;
    try {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> pane(session).contains("connected to " + open));
      first = paneSize(session);
      clock.advance(Duration.ofSeconds(2));
      run("tmux", "send-keys", "-t", session, "echo remote-$((6*7)); stty size", "Enter");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  pane(session).contains("remote-42")
                      && pane(session).contains(first[1] + " " + first[0]));

      run("tmux", "resize-window", "-t", session, "-x", "120", "-y", "40");
      int[] second = paneSize(session);
      assertThat(second).isNotEqualTo(first);
      clock.advance(Duration.ofSeconds(3));
      // The new size travels from the CLI's SIGWINCH handler while keys may already be typed:
      // ask again until the shell reports it.
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofSeconds(1))
          .until(
              () -> {
                run("tmux", "send-keys", "-t", session, "clear; stty size", "Enter");
                return pane(session);
              },
              p -> p.contains(second[1] + " " + second[0]));

      run("tmux", "send-keys", "-t", session, "exit 7", "Enter");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> Files.exists(exitFile) && Files.size(exitFile) > 0);
      assertThat(Files.readString(exitFile).strip()).isEqualTo("7");
      // The terminal was given back as it was (raw mode and echo off undone).
      assertThat(pane(session)).doesNotContain("error:");
      resized = second[0] + "x" + second[1];
      firstSize = first;
    } finally {
      new ProcessBuilder("tmux", "kill-session", "-t", session).start().waitFor();
    }

    JsonNode sessions = admin.get("/api/v1/sessions?device=" + open + "&kind=shell").body();
    JsonNode s = sessions.path("items").get(0);
    String id = s.path("id").asText();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> admin.get("/api/v1/sessions/" + id).body().hasNonNull("endedAt"));
    Answer rec = admin.get("/api/v1/sessions/" + id + "/recording");
    assertThat(rec.status()).isEqualTo(200);
    String[] lines = rec.body().asText().split("\n");
    JsonNode header = Json.mapper().readTree(lines[0]);
    assertThat(header.path("version").asInt()).isEqualTo(2);
    assertThat(header.path("width").asInt()).isEqualTo(firstSize[0]);
    assertThat(header.path("height").asInt()).isEqualTo(firstSize[1]);
    StringBuilder output = new StringBuilder();
    boolean sawResize = false;
    double lastTime = 0;
    for (int i = 1; i < lines.length; i++) {
      JsonNode e = Json.mapper().readTree(lines[i]);
      assertThat(e.get(0).asDouble()).isGreaterThanOrEqualTo(lastTime);
      lastTime = e.get(0).asDouble();
      if (e.get(1).asText().equals("o")) {
        output.append(e.get(2).asText());
      } else if (e.get(1).asText().equals("r")) {
        sawResize |= e.get(2).asText().equals(resized);
      }
    }
    assertThat(output)
        .contains("remote-42")
        .contains(firstSize[1] + " " + firstSize[0])
        .contains(resized.replaceAll("([0-9]+)x([0-9]+)", "$2 $1"));
    assertThat(sawResize).isTrue();
    // The clock moved 2 s before the first command and 3 s more before the resize.
    assertThat(lastTime).isGreaterThanOrEqualTo(5.0);

    // The CLI replays it.
    String played =
        run(cli(adminToken(), "sessions", "play", id, "--no-wait").toArray(String[]::new));
    assertThat(played)
        .contains("remote-42")
        .contains(resized.replaceAll("([0-9]+)x([0-9]+)", "$2 $1"));
  }

  @Test
  void pipedInputRunsAndEndsTheShell() throws Exception {
    Process p = new ProcessBuilder(cli(adminToken(), "shell", open)).start();
    p.getOutputStream().write("echo piped-$((2+3))\nexit 3\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(out).contains("piped-5");
    assertThat(p.exitValue()).isEqualTo(3);
  }

  @Test
  void aDeviceWithoutAllowShellAndAUserWithoutGrantAreRefusedClearly() throws Exception {
    String err = run(cli(adminToken(), "shell", closed).toArray(String[]::new));
    assertThat(err).contains("SHELL_DISABLED").contains("--allow-shell");

    // An operator: no tunnels:shell at all.
    String op = user("olive", List.of("operator"));
    assertThat(run(cli(op, "shell", open).toArray(String[]::new)))
        .contains("PERMISSION_DENIED")
        .contains("tunnels:shell");

    // A custom role with the permission but no grant.
    admin.post(
        "/api/v1/roles",
        Map.of("name", "shellers", "permissions", List.of("tunnels:shell", "devices:read")));
    String sheller = user("sid", List.of("shellers"));
    assertThat(run(cli(sheller, "shell", open).toArray(String[]::new)))
        .contains("SHELL_NOT_GRANTED")
        .contains("shellers");

    // A user of a project that does not pick the device: it does not exist for them.
    assertThat(
            admin
                .post("/api/v1/projects", Map.of("name", "closed-only", "selector", "name=closed"))
                .status())
        .isEqualTo(201);
    assertThat(
            admin
                .post("/api/v1/users", Map.of("name", "pat", "kind", "user", "roles", List.of()))
                .status())
        .isEqualTo(201);
    assertThat(
            admin
                .put(
                    "/api/v1/users/pat/roles",
                    Map.of("roles", List.of("admin"), "project", "closed-only"))
                .status())
        .isEqualTo(200);
    Answer t = admin.post("/api/v1/tokens", Map.of("user", "pat", "name", "t"));
    try (AdminClient pat =
        new AdminClient(c.url(), t.body().path("secret").asText(), c.caFingerprint())) {
      assertThat(pat.get("/api/v1/devices/" + open + "/shell").status()).isEqualTo(404);
      assertThat(pat.get("/api/v1/devices/" + open + "/files?path=/etc/hostname").status())
          .isEqualTo(404);
      // Its own project's device answers with the device's refusal instead.
      assertThat(pat.get("/api/v1/devices/" + closed + "/shell").code())
          .isEqualTo("SHELL_DISABLED");
    }
  }

  static String user(String name, List<String> roles) {
    assertThat(
            admin
                .post("/api/v1/users", Map.of("name", name, "kind", "user", "roles", roles))
                .status())
        .isEqualTo(201);
    Answer t = admin.post("/api/v1/tokens", Map.of("user", name, "name", "t"));
    assertThat(t.status()).as(t.body().toString()).isEqualTo(201);
    return t.body().path("secret").asText();
  }

  @Test
  void approvalBySecondPersonWorksAndSelfApprovalIsRefused() throws Exception {
    admin.post(
        "/api/v1/roles",
        Map.of("name", "fourEyes".toLowerCase(), "permissions", List.of("tunnels:shell")));
    assertThat(
            admin
                .post(
                    "/api/v1/shell-grants",
                    Map.of(
                        "role",
                        "foureyes",
                        "selector",
                        "name=open",
                        "requireApproval",
                        true,
                        "approvalMinutes",
                        10))
                .status())
        .isEqualTo(201);
    String alice = user("alice", List.of("foureyes"));
    String bob = user("bob", List.of("foureyes"));
    assertThat(run(cli(alice, "shell", open).toArray(String[]::new)))
        .contains("SHELL_APPROVAL_REQUIRED")
        .contains("edgefleet shell request");

    String requested =
        run(
            cli(alice, "shell", "request", open, "--reason", "disk full", "-o", "json")
                .toArray(String[]::new));
    String id = Json.mapper().readTree(requested).path("id").asText();
    assertThat(run(cli(alice, "shell", "approve", id).toArray(String[]::new)))
        .contains("SHELL_SELF_APPROVAL");
    assertThat(run(cli(alice, "shell", open).toArray(String[]::new)))
        .contains("SHELL_APPROVAL_REQUIRED")
        .contains(id);

    assertThat(run(cli(bob, "shell", "approve", id).toArray(String[]::new))).contains("approved");
    Process p = new ProcessBuilder(cli(alice, "shell", open)).start();
    p.getOutputStream().write("echo approved-ok\nexit\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(out).contains("approved-ok");

    // The approval expires.
    clock.advance(Duration.ofMinutes(11));
    assertThat(run(cli(alice, "shell", open).toArray(String[]::new)))
        .contains("SHELL_APPROVAL_REQUIRED");
    Answer audit = admin.get("/api/v1/audit?action=shell-request.approve");
    assertThat(audit.body().path("items").get(0).path("actor").asText()).isEqualTo("bob");
  }

  @Test
  void cpCopiesAFileAndRefusesATooLargeOne() throws Exception {
    Path remote = dir.resolve("device-file.bin");
    byte[] content = new byte[300_000];
    new java.util.Random(5).nextBytes(content);
    Files.write(remote, content);
    Path local = dir.resolve("copied.bin");
    String out =
        run(cli(adminToken(), "cp", open + ":" + remote, local.toString()).toArray(String[]::new));
    assertThat(out).contains("copied");
    assertThat(Files.readAllBytes(local)).isEqualTo(content);

    Path small = dir.resolve("small.bin");
    String refused =
        run(
            cli(adminToken(), "cp", open + ":" + remote, small.toString(), "--max-bytes", "100KiB")
                .toArray(String[]::new));
    assertThat(refused).contains("FILE_TOO_LARGE");
    assertThat(small).doesNotExist();
    assertThat(dir.resolve("small.bin.part")).doesNotExist();

    assertThat(
            run(
                cli(adminToken(), "cp", open + ":" + dir, dir.resolve("x").toString())
                    .toArray(String[]::new)))
        .contains("FILE_NOT_REGULAR");
    assertThat(
            run(
                cli(adminToken(), "cp", closed + ":" + remote, dir.resolve("y").toString())
                    .toArray(String[]::new)))
        .contains("FILE_COPY_DISABLED");
  }

  @Test
  void aLinkCutEndsTheShellSessionAndTheRecordSaysSo() throws Exception {
    Process p = new ProcessBuilder(cli(adminToken(), "shell", cut)).start();
    p.getOutputStream().write("echo before-cut\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().flush();
    StringBuilder seen = new StringBuilder();
    Thread reader =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    byte[] buf = new byte[4096];
                    int n;
                    while ((n = p.getInputStream().read(buf)) >= 0) {
                      synchronized (seen) {
                        seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                      }
                    }
                  } catch (IOException e) {
                    // ended
                  }
                });
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              synchronized (seen) {
                return seen.toString().contains("before-cut\r\n");
              }
            });
    link.cut();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    reader.join();
    assertThat(p.exitValue()).isNotZero();
    JsonNode s =
        admin.get("/api/v1/sessions?device=" + cut + "&kind=shell").body().path("items").get(0);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                admin
                    .get("/api/v1/sessions/" + s.path("id").asText())
                    .body()
                    .path("endReason")
                    .asText()
                    .contains("link lost"));
    link.restore();
  }
}
