package io.edgefleet.controllerdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.testkit.AdminClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OCI image the build made, loaded into the real podman (rootful, runc) of this machine and run
 * as a container with a read-only root file system and tight limits: the controller starts as user
 * 10001 on the image's own libraries and runtime and serves {@code /healthz}, its data in the
 * volume given.
 */
class ControllerImageIT {
  @TempDir Path scratch;
  private final String name =
      "efc-it-" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
  private String imageId;

  @AfterEach
  void remove() throws Exception {
    podman(false, "rm", "-f", "-t", "0", name);
    if (imageId != null) {
      podman(false, "rmi", "-f", imageId);
    }
  }

  @Test
  void imageLoadsRunsAsNonRootAndServesHealthz() throws Exception {
    String loaded = podman(true, "load", "-i", Made.file("image").toAbsolutePath().toString());
    String ref = "localhost/" + Made.get("image.ref");
    assertThat(loaded).contains("Loaded image: " + ref);
    imageId = podman(true, "image", "inspect", "--format", "{{.Id}}", ref).strip();
    // podman's image ID is the digest of the configuration the build wrote: the bytes survived.
    assertThat("sha256:" + imageId).isEqualTo(Made.get("image.config"));
    assertThat(
            podman(
                    true,
                    "image",
                    "inspect",
                    "--format",
                    "{{.Config.User}} {{.Config.WorkingDir}}",
                    imageId)
                .strip())
        .isEqualTo("10001:10001 /var/lib/edgefleet");

    Path data = Files.createDirectories(scratch.resolve("data"));
    // As Kubernetes prepares a volume for a pod with fsGroup 10001: owned by root, writable by
    // the group. The controller makes its own data directory inside.
    Files.setAttribute(data, "unix:gid", ControllerDist.IMAGE_UID);
    Files.setPosixFilePermissions(
        data, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxr-x"));
    int port = Healthz.freePort();
    podman(
        true,
        "run",
        "-d",
        "--name",
        name,
        "--read-only",
        "--ulimit",
        "nofile=4096:4096",
        "--ulimit",
        "nproc=4096:4096",
        "--memory",
        "768m",
        "-p",
        "127.0.0.1:" + port + ":7443",
        "-v",
        data + ":/var/lib/edgefleet",
        imageId);
    Path ca = data.resolve("controller/pki/ca.crt");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .failFast(
            "the container stopped",
            () ->
                !podman(false, "inspect", "--format", "{{.State.Status}}", name)
                    .strip()
                    .equals("running"))
        .until(() -> Healthz.statusOrNone(ca, port) == 200);

    String logs = podman(true, "logs", name);
    assertThat(logs)
        .contains("serving https://0.0.0.0:7443")
        .contains("data:          /var/lib/edgefleet/controller");
    // The controller's files in the volume belong to the image's user.
    assertThat(Files.getAttribute(data.resolve("controller/admin-token"), "unix:uid"))
        .isEqualTo(ControllerDist.IMAGE_UID);
    String pid = podman(true, "inspect", "--format", "{{.State.Pid}}", name).strip();
    assertThat(Files.readAllLines(Path.of("/proc", pid, "status")))
        .anyMatch(l -> l.matches("Uid:\\s+10001\\s+10001\\s+10001\\s+10001"));

    // Helm runs in the image too (a child JVM from the runtime, Helm's native library through
    // JNA, both unpacked under the data directory with the root file system read-only): a pushed
    // chart is rendered before it is stored.
    String fingerprint =
        logs.lines()
            .filter(l -> l.contains("CA fingerprint "))
            .map(l -> l.substring(l.indexOf("CA fingerprint ") + 15).strip())
            .findFirst()
            .orElseThrow();
    String token = Files.readString(data.resolve("controller/admin-token")).strip();
    try (AdminClient admin = new AdminClient("https://127.0.0.1:" + port, token, fingerprint)) {
      AdminClient.Answer pushed =
          admin.post(
              "/api/v1/catalog/apps/probe/versions",
              Map.of("version", "1.0.0", "kind", "chart", "archive", chart()));
      assertThat(pushed.status()).as(pushed.body().toString()).isEqualTo(201);
      AdminClient.Answer refused =
          admin.post(
              "/api/v1/catalog/apps/probe/versions",
              Map.of(
                  "version",
                  "1.0.1",
                  "kind",
                  "chart",
                  "archive",
                  chart("{{ fail \"the probe refuses to render\" }}")));
      assertThat(refused.status()).as(refused.body().toString()).isEqualTo(422);
      assertThat(refused.code()).isEqualTo("CATALOG_CONTENT_INVALID");
      assertThat(refused.body().path("message").asText()).contains("the probe refuses to render");
    }
  }

  private String chart() throws Exception {
    return chart("data: {greeting: {{ .Values.greeting | quote }}}");
  }

  /** A one-template chart as a base64 tar.gz, as {@code edgefleet apps push} sends it. */
  private String chart(String templateBody) throws Exception {
    Path root = Files.createDirectories(scratch.resolve("chart-" + System.nanoTime()));
    Path chart = Files.createDirectories(root.resolve("probe/templates"));
    Files.writeString(
        root.resolve("probe/Chart.yaml"), "apiVersion: v2\nname: probe\nversion: 1.0.0\n");
    Files.writeString(root.resolve("probe/values.yaml"), "greeting: hello\n");
    Files.writeString(
        chart.resolve("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\n" + templateBody + "\n");
    Path archive = root.resolve("probe.tgz");
    Made.run(root, "tar", "-czf", archive.toString(), "probe");
    return Base64.getEncoder().encodeToString(Files.readAllBytes(archive));
  }

  /** Runs podman; its output, and when {@code check} a failure unless it succeeded. */
  private static String podman(boolean check, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("podman"));
    command.addAll(List.of(args));
    if (check) {
      return String.join("\n", Made.run(Path.of("."), command.toArray(String[]::new)));
    }
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    p.waitFor();
    return out;
  }
}
