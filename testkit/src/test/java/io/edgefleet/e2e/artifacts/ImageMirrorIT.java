package io.edgefleet.e2e.artifacts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.cli.CliCommands;
import io.edgefleet.protocol.Json;
import io.edgefleet.testkit.AdminClient;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.oci.OciImages;
import io.edgefleet.testkit.oci.Registry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Mirroring images from a real registry ({@code docker-registry}) through a real controller's API:
 * by tag and by digest (stored once), the stored oci-archive read by skopeo and loaded and run by
 * podman, a multi-platform index, a registry that lies about a blob, unknown names, and a registry
 * behind HTTPS with a private CA and basic authentication.
 */
class ImageMirrorIT {
  private static final String MIRROR = "/api/v1/artifacts/mirror";

  @TempDir static Path dir;

  private static Registry registry;
  private static TestController controller;
  private static AdminClient admin;
  private static Path data;

  @BeforeAll
  static void start() throws Exception {
    registry = Registry.start(dir.resolve("registry"));
    data = dir.resolve("controller");
    controller = TestController.start(data);
    admin = controller.admin();
    // A plain-HTTP registry must be listed as insecure; the file is read at each mirror.
    Files.writeString(
        data.resolve("registries.yaml"),
        "registries:\n  - host: " + registry.host() + "\n    insecure: true\n");
  }

  @AfterAll
  static void stop() {
    if (controller != null) {
      controller.close();
    }
    if (registry != null) {
      registry.close();
    }
  }

  @Test
  void anImageMirroredByTagAndByDigestIsStoredOnceAsAnArchivePodmanRuns() throws Exception {
    OciImages.Built image =
        OciImages.busybox()
            .file("etc/greeting", "hello from the registry\n", 0644)
            .cmd("/bin/cat", "/etc/greeting")
            .writeArchive(dir.resolve("hello.tar"));
    String pushed = registry.push(image.archive(), "apps/hello:1.0");
    assertThat(pushed).isEqualTo(image.manifestDigest());
    String name = registry.host() + "/apps/hello";

    AdminClient.Answer byTag = admin.post(MIRROR, Map.of("reference", name + ":1.0"));
    assertThat(byTag.status()).as(byTag.body().toString()).isEqualTo(201);
    JsonNode artifact = byTag.body().path("artifact");
    assertThat(byTag.body().path("manifestDigest").asText()).isEqualTo(pushed);
    assertThat(byTag.body().path("platform").asText()).isEqualTo("linux/amd64");
    assertThat(artifact.path("kind").asText()).isEqualTo("image");
    assertThat(artifact.path("name").asText()).isEqualTo(name);
    assertThat(artifact.path("version").asText()).isEqualTo(pushed);
    assertThat(artifact.path("arch").asText()).isEqualTo("amd64");

    Path archive = stored(artifact.path("digest").asText());
    assertThat(Files.size(archive)).isEqualTo(artifact.path("size").asLong());
    String raw = run("skopeo", "inspect", "--raw", "oci-archive:" + archive);
    assertThat(OciImages.sha256(raw.getBytes(StandardCharsets.UTF_8))).isEqualTo(pushed);
    String loaded = run("podman", "load", "-q", "-i", archive.toString());
    assertThat(loaded).contains(name + ":1.0");
    try {
      // Podman's default process limits can exceed what a confined host grants: set them.
      assertThat(
              run(
                  "podman",
                  "run",
                  "--rm",
                  "--pull=never",
                  "--ulimit",
                  "nofile=1024:1024",
                  "--ulimit",
                  "nproc=1024:1024",
                  name + ":1.0"))
          .isEqualTo("hello from the registry\n");
    } finally {
      run("podman", "rmi", "-f", name + ":1.0");
    }

    // The same image by digest, and by tag again: the stored artifact, nothing fetched.
    for (String ref : List.of(name + "@" + pushed, name + ":1.0")) {
      AdminClient.Answer again = admin.post(MIRROR, Map.of("reference", ref, "arch", "amd64"));
      assertThat(again.status()).as(again.body().toString()).isEqualTo(200);
      assertThat(again.body().path("artifact").path("digest").asText())
          .isEqualTo(artifact.path("digest").asText());
      assertThat(again.body().path("manifestDigest").asText()).isEqualTo(pushed);
    }
    assertThat(images(name)).hasSize(1);
    assertThat(workLeft()).isEmpty();
  }

  @Test
  void aMultiPlatformIndexGivesTheImageOfTheArchitectureAskedFor() throws Exception {
    String amd64 =
        registry.push(
            OciImages.busybox()
                .file("etc/arch", "amd64\n", 0644)
                .writeArchive(dir.resolve("amd64.tar"))
                .archive(),
            "multi/tool:amd64");
    String arm64 =
        registry.push(
            OciImages.busybox()
                .architecture("arm64")
                .file("etc/arch", "arm64\n", 0644)
                .writeArchive(dir.resolve("arm64.tar"))
                .archive(),
            "multi/tool:arm64");
    Map<String, String> platforms = new LinkedHashMap<>();
    platforms.put("amd64", amd64);
    platforms.put("arm64", arm64);
    String index = registry.pushIndex("multi/tool", "1.0", platforms);
    assertThat(registry.manifestDigest("multi/tool", "1.0")).isEqualTo(index);
    String ref = registry.host() + "/multi/tool:1.0";

    AdminClient.Answer arm = admin.post(MIRROR, Map.of("reference", ref, "arch", "arm64"));
    assertThat(arm.status()).as(arm.body().toString()).isEqualTo(201);
    assertThat(arm.body().path("manifestDigest").asText()).isEqualTo(arm64);
    assertThat(arm.body().path("artifact").path("arch").asText()).isEqualTo("arm64");
    String raw =
        run(
            "skopeo",
            "inspect",
            "--raw",
            "oci-archive:" + stored(arm.body().path("artifact").path("digest").asText()));
    assertThat(OciImages.sha256(raw.getBytes(StandardCharsets.UTF_8))).isEqualTo(arm64);

    AdminClient.Answer amd = admin.post(MIRROR, Map.of("reference", ref));
    assertThat(amd.status()).as(amd.body().toString()).isEqualTo(201);
    assertThat(amd.body().path("manifestDigest").asText()).isEqualTo(amd64);
    assertThat(amd.body().path("artifact").path("arch").asText()).isEqualTo("amd64");

    AdminClient.Answer none = admin.post(MIRROR, Map.of("reference", ref, "arch", "riscv64"));
    assertThat(none.status()).isEqualTo(404);
    assertThat(none.code()).isEqualTo("REGISTRY_NOT_FOUND");
    assertThat(message(none)).contains("linux/riscv64", "linux/amd64", "linux/arm64");

    // A single-platform image is not mirrored for another architecture.
    AdminClient.Answer wrong =
        admin.post(
            MIRROR, Map.of("reference", registry.host() + "/multi/tool:amd64", "arch", "arm64"));
    assertThat(wrong.code()).isEqualTo("REGISTRY_NOT_FOUND");
    assertThat(message(wrong)).contains("linux/amd64 only");
    assertThat(images(registry.host() + "/multi/tool")).hasSize(2);
  }

  @Test
  void aRegistryThatSendsOtherBytesThanItsDigestNamesIsRefusedAndNothingIsStored()
      throws Exception {
    OciImages.Built image =
        OciImages.busybox()
            .file("etc/damaged", "this layer will be damaged\n", 0644)
            .writeArchive(dir.resolve("damaged.tar"));
    String pushed = registry.push(image.archive(), "apps/damaged:1.0");
    JsonNode manifest =
        Json.mapper().readTree(registry.get("/v2/apps/damaged/manifests/" + pushed).body());
    Path layer = registry.blobFile(manifest.path("layers").get(0).path("digest").asText());
    byte[] bytes = Files.readAllBytes(layer);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(layer, bytes);

    AdminClient.Answer lied =
        admin.post(MIRROR, Map.of("reference", registry.host() + "/apps/damaged:1.0"));
    assertThat(lied.status()).as(lied.body().toString()).isEqualTo(502);
    assertThat(lied.code()).isEqualTo("REGISTRY_DIGEST_MISMATCH");
    assertThat(message(lied)).contains("Nothing was stored");
    assertThat(images(registry.host() + "/apps/damaged")).isEmpty();
    assertThat(workLeft()).isEmpty();
  }

  @Test
  void unknownRepositoriesTagsAndReferencesWithoutARegistryGetClearErrors() throws Exception {
    registry.push(
        OciImages.busybox().writeArchive(dir.resolve("known.tar")).archive(), "apps/known:1.0");

    AdminClient.Answer repo =
        admin.post(MIRROR, Map.of("reference", registry.host() + "/apps/nothing-here:1.0"));
    assertThat(repo.status()).isEqualTo(404);
    assertThat(repo.code()).isEqualTo("REGISTRY_NOT_FOUND");
    assertThat(message(repo)).contains("apps/nothing-here", "does not exist");

    AdminClient.Answer tag =
        admin.post(MIRROR, Map.of("reference", registry.host() + "/apps/known:2.0"));
    assertThat(tag.status()).isEqualTo(404);
    assertThat(tag.code()).isEqualTo("REGISTRY_NOT_FOUND");
    assertThat(message(tag)).contains("2.0", "check the tag");

    AdminClient.Answer bare = admin.post(MIRROR, Map.of("reference", "busybox:1.36"));
    assertThat(bare.status()).isEqualTo(422);
    assertThat(bare.code()).isEqualTo("VALIDATION_FAILED");
    assertThat(message(bare)).contains("names no registry", "registry.example.com/busybox:1.36");

    AdminClient.Answer unknownField =
        admin.post(MIRROR, Map.of("reference", registry.host() + "/apps/known:1.0", "tag", "x"));
    assertThat(unknownField.status()).isEqualTo(422);
    assertThat(message(unknownField)).contains("tag");

    // Nothing listens there: unreachable, and retryable.
    AdminClient.Answer down = admin.post(MIRROR, Map.of("reference", "127.0.0.1:1/apps/x:1"));
    assertThat(down.code()).isEqualTo("REGISTRY_UNREACHABLE");
    assertThat(down.status()).isEqualTo(502);
  }

  @Test
  void aRegistryWithAPrivateCaAndBasicCredentialsIsReachedAsConfigured() throws Exception {
    try (Registry secure =
        Registry.start(
            dir.resolve("secure-registry"),
            new Registry.Options().tls().user("robot", "s3cret-pull")); ) {
      String pushed =
          secure.push(
              OciImages.busybox()
                  .file("etc/secure", "behind TLS\n", 0644)
                  .writeArchive(dir.resolve("secure.tar"))
                  .archive(),
              "private/app:1.0");
      Path other = dir.resolve("controller-secure");
      try (TestController c = TestController.start(other)) {
        String ref = secure.host() + "/private/app:1.0";

        AdminClient.Answer untrusted = c.admin().post(MIRROR, Map.of("reference", ref));
        assertThat(untrusted.code()).isEqualTo("REGISTRY_UNREACHABLE");
        assertThat(message(untrusted)).contains("caFile");

        Path password = dir.resolve("registry.password");
        Files.writeString(password, "wrong\n");
        Files.writeString(
            other.resolve("registries.yaml"),
            "registries:\n  - host: "
                + secure.host()
                + "\n    caFile: "
                + secure.caFile().orElseThrow()
                + "\n    username: robot\n    passwordFile: "
                + password
                + "\n");
        AdminClient.Answer refused = c.admin().post(MIRROR, Map.of("reference", ref));
        assertThat(refused.code()).isEqualTo("REGISTRY_UNAUTHORIZED");
        assertThat(message(refused)).contains("robot", "passwordFile");

        Files.writeString(password, "s3cret-pull\n");
        AdminClient.Answer ok = c.admin().post(MIRROR, Map.of("reference", ref));
        assertThat(ok.status()).as(ok.body().toString()).isEqualTo(201);
        assertThat(ok.body().path("manifestDigest").asText()).isEqualTo(pushed);
      }
    }
  }

  @Test
  void theCliMirrorsAnImageAndListsIt() throws Exception {
    String pushed =
        registry.push(
            OciImages.busybox()
                .file("etc/cli", "from the command line\n", 0644)
                .writeArchive(dir.resolve("cli.tar"))
                .archive(),
            "apps/cli:3.1");
    String ref = registry.host() + "/apps/cli:3.1";

    Run table = cli("artifacts", "mirror", ref, "--arch", "amd64");
    assertThat(table.exitCode()).as(table.err()).isZero();
    assertThat(table.err()).contains("Mirroring " + ref + " for linux/amd64");
    assertThat(table.out())
        .contains("Platform:", "linux/amd64", pushed, "now, fetched from the registry");

    Run json = cli("artifacts", "mirror", ref, "-o", "json");
    assertThat(json.exitCode()).as(json.err()).isZero();
    JsonNode answer = Json.mapper().readTree(json.out());
    assertThat(answer.path("manifestDigest").asText()).isEqualTo(pushed);
    assertThat(answer.path("fetched").asBoolean()).isFalse();

    Run list = cli("artifacts", "list");
    assertThat(list.exitCode()).as(list.err()).isZero();
    assertThat(list.out()).contains("image", registry.host() + "/apps/cli", pushed);

    Run bare = cli("artifacts", "mirror", "busybox:1.36");
    assertThat(bare.exitCode()).isNotZero();
    assertThat(bare.err()).contains("names no registry", "docker.io/library/busybox:1.36");

    Run missing = cli("artifacts", "mirror", registry.host() + "/apps/cli:9.9");
    assertThat(missing.exitCode()).isNotZero();
    assertThat(missing.err()).contains("REGISTRY_NOT_FOUND");
  }

  record Run(int exitCode, String out, String err) {}

  @CommandLine.Command(name = "edgefleet")
  static final class Root {}

  private static Run cli(String... args) {
    CommandLine root = new CommandLine(new Root());
    CliCommands.commands().forEach(root::addSubcommand);
    CliCommands.reportBadInputBriefly(root);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    root.setOut(new PrintWriter(out, true));
    root.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(
        List.of(
            "--server",
            controller.url(),
            "--token",
            controller.controller().adminToken().orElseThrow(),
            "--ca-fingerprint",
            controller.caFingerprint()));
    int code = root.execute(all.toArray(String[]::new));
    return new Run(code, out.toString(), err.toString());
  }

  private static String message(AdminClient.Answer a) {
    return a.body().path("message").asText();
  }

  private static List<JsonNode> images(String name) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode a : admin.get("/api/v1/artifacts").body().path("items")) {
      if (a.path("kind").asText().equals("image") && a.path("name").asText().equals(name)) {
        out.add(a);
      }
    }
    return out;
  }

  private static Path stored(String digest) {
    return data.resolve("artifacts/sha256").resolve(digest.substring("sha256:".length()));
  }

  private static List<Path> workLeft() throws Exception {
    try (Stream<Path> files = Files.list(data.resolve("mirror"))) {
      return files.toList();
    }
  }

  private static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + ": " + out).isZero();
    return out;
  }
}
