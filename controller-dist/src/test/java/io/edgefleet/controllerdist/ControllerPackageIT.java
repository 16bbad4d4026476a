package io.edgefleet.controllerdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tarball the build made: the controller started through its start script on its own jlink
 * runtime serves {@code /healthz}; its systemd unit passes systemd's own check.
 */
class ControllerPackageIT {
  /** The highest exposure the unit may have, in tenths of systemd's 0 to 10 scale. */
  private static final int MAX_EXPOSURE = 25;

  @TempDir Path scratch;
  private Process controller;

  @AfterEach
  void stop() {
    if (controller != null) {
      controller.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
      controller.destroyForcibly();
    }
  }

  private Path unpacked() throws Exception {
    Made.run(scratch, "tar", "xzf", Made.file("tarball").toString());
    Path home = scratch.resolve(Made.get("tarball.prefix"));
    assertThat(home.resolve("bin/edgefleet-controller")).isExecutable();
    assertThat(home.resolve("runtime/bin/java")).isExecutable();
    return home;
  }

  @Test
  void controllerFromTheTarballServesHealthz() throws Exception {
    Path home = unpacked();
    try (var jars = Files.list(home.resolve("lib"))) {
      assertThat(jars.map(p -> p.getFileName().toString()))
          .anyMatch(n -> n.startsWith("edgefleet-controller-"))
          .noneMatch(n -> n.startsWith("junit") || n.startsWith("assertj"));
    }
    // Only the modules the build chose: the runtime is trimmed, not a whole JDK.
    String modules =
        String.join(
            "\n", Made.run(scratch, home.resolve("runtime/bin/java").toString(), "--list-modules"));
    assertThat(modules).contains("java.sql@").doesNotContain("jdk.compiler@", "jdk.jshell@");

    Path data = scratch.resolve("data");
    int port = Healthz.freePort();
    Path log = scratch.resolve("controller.log");
    // Started through a link, as /usr/local/bin/edgefleet-controller would be.
    Path link =
        Files.createSymbolicLink(
            scratch.resolve("edgefleet-controller"), home.resolve("bin/edgefleet-controller"));
    controller =
        new ProcessBuilder(
                link.toString(), "--data=" + data, "--listen=127.0.0.1:" + port, "--kube-port=-1")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    Path ca = data.resolve("pki/ca.crt");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .failFast("the controller exited", () -> !controller.isAlive())
        .until(() -> Healthz.statusOrNone(ca, port) == 200);
    assertThat(Files.readString(log)).contains("serving https://127.0.0.1:" + port);

    // A wrong option: exit status 2 and what is wrong (the unit does not restart on it).
    Process wrong =
        new ProcessBuilder(link.toString(), "--data=" + data, "--listen=nowhere")
            .redirectErrorStream(true)
            .start();
    String said = new String(wrong.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(wrong.waitFor()).isEqualTo(2);
    assertThat(said).contains("--listen must be HOST:PORT");
  }

  @Test
  void unitFilePassesSystemdAnalyzeVerify() throws Exception {
    Path home = unpacked();
    String unit = Files.readString(home.resolve("systemd/edgefleet-controller.service"));
    assertThat(unit)
        .contains(
            "ExecStart=/opt/edgefleet-controller/bin/edgefleet-controller"
                + " --data=/var/lib/edgefleet-controller $EDGEFLEET_CONTROLLER_ARGS\n")
        .contains("User=edgefleet-controller\n")
        .contains("EnvironmentFile=-/etc/edgefleet/controller.env\n")
        .contains("StateDirectory=edgefleet-controller\n")
        .contains("Restart=on-failure\n")
        .contains("ProtectSystem=strict\n")
        .contains("NoNewPrivileges=yes\n");
    assertThat(Files.readString(home.resolve("systemd/edgefleet-controller.sysusers")))
        .contains("u edgefleet-controller - ");
    // systemd checks the command exists: point it into the unpacked tarball.
    Path units = Files.createDirectories(scratch.resolve("units"));
    Path copy = units.resolve("edgefleet-controller.service");
    Files.writeString(copy, unit.replace("/opt/edgefleet-controller/", home + "/"));
    List<String> out = Made.run(scratch, "systemd-analyze", "verify", copy.toString());
    assertThat(out).as("systemd-analyze verify reports nothing").isEmpty();

    // systemd's own rating of the sandbox: exposure at most 2.5 of 10 ("OK"; 1.7 when written).
    Made.run(
        scratch,
        "systemd-analyze",
        "security",
        "--offline=true",
        "--threshold=" + MAX_EXPOSURE,
        copy.toString());
    Path bare = units.resolve("bare.service");
    Files.writeString(
        bare,
        Files.readString(copy)
            .lines()
            .filter(l -> !l.startsWith("Protect") && !l.startsWith("Private"))
            .filter(l -> !l.startsWith("NoNewPrivileges") && !l.startsWith("CapabilityBoundingSet"))
            .filter(l -> !l.startsWith("SystemCall") && !l.startsWith("Restrict"))
            .collect(java.util.stream.Collectors.joining("\n", "", "\n")));
    Process rated =
        new ProcessBuilder(
                "systemd-analyze",
                "security",
                "--offline=true",
                "--threshold=" + MAX_EXPOSURE,
                bare.toString())
            .redirectErrorStream(true)
            .start();
    rated.getInputStream().readAllBytes();
    assertThat(rated.waitFor()).as("the unit without its hardening rates worse").isNotZero();

    // It does catch a mistake.
    Files.writeString(
        copy, Files.readString(copy).replace("Restart=on-failure", "Restrat=on-failure"));
    Process p =
        new ProcessBuilder("systemd-analyze", "verify", copy.toString())
            .redirectErrorStream(true)
            .start();
    String complaint = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    assertThat(complaint).contains("Restrat");
  }
}
