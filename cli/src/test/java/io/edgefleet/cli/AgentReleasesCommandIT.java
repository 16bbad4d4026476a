package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code agent-releases} against a real controller: a key made, a release signed with it and pushed
 * to a controller trusting it, listed as a table and JSON; a release signed by another key refused;
 * a rollout plan refused with what to do; the release deleted.
 */
class AgentReleasesCommandIT {
  @TempDir Path dir;
  private Controller controller;

  @AfterEach
  void stopController() {
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void keygenSignPushListDelete() throws Exception {
    Cli.Result keygen =
        Cli.run("agent-releases", "keygen", "--out", dir.resolve("keys").toString());
    assertThat(keygen.exitCode()).as(keygen.err()).isZero();
    assertThat(keygen.out()).contains("release.pub").contains("--agent-release-key");
    assertThat(Files.getPosixFilePermissions(dir.resolve("keys/release.key")))
        .isEqualTo(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
    Cli.Result again = Cli.run("agent-releases", "keygen", "--out", dir.resolve("keys").toString());
    assertThat(again.exitCode()).isEqualTo(2);
    assertThat(again.err()).contains("already holds a release key");

    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller"))
                .withListen("127.0.0.1", 0)
                .withAgentReleaseKeys(List.of(dir.resolve("keys/release.pub"))),
            Clock.systemUTC());

    Path file = dir.resolve("edgefleet-agent-0.2.0-linux-amd64.tar.gz");
    Files.write(file, release("0.2.0", "amd64"));
    Cli.Result signed =
        Cli.run(
            "agent-releases",
            "sign",
            "--key",
            dir.resolve("keys/release.key").toString(),
            file.toString());
    assertThat(signed.exitCode()).as(signed.err()).isZero();
    AgentRelease sig =
        Json.mapper()
            .readValue(dir.resolve(file.getFileName() + ".sig").toFile(), AgentRelease.class);
    assertThat(sig.version()).isEqualTo("0.2.0");
    assertThat(sig.arch()).isEqualTo("amd64");
    assertThat(sig.size()).isEqualTo(Files.size(file));
    assertThat(sig.digest()).isEqualTo(ArtifactsCommand.digest(file));

    Cli.Result pushed = run("agent-releases", "push", file.toString());
    assertThat(pushed.exitCode()).as(pushed.err()).isZero();
    assertThat(pushed.out()).contains("0.2.0").contains(sig.keyId()).contains(sig.digest());
    Cli.Result list = run("agent-releases", "list");
    assertThat(list.out()).startsWith("VERSION").contains("0.2.0").contains("amd64");
    JsonNode items =
        Json.mapper().readTree(run("agent-releases", "list", "-o", "json").out()).path("items");
    assertThat(items).hasSize(1);
    assertThat(items.get(0).path("signature").asText()).isEqualTo(sig.signature());
    Cli.Result twice = run("agent-releases", "push", file.toString());
    assertThat(twice.exitCode()).isEqualTo(1);
    assertThat(twice.err()).contains("AGENT_RELEASE_EXISTS").contains("agent-releases delete");

    // A key the controller does not trust, and a file without its signature.
    Cli.run("agent-releases", "keygen", "--out", dir.resolve("other").toString());
    Path other = dir.resolve("edgefleet-agent-0.3.0-linux-amd64.tar.gz");
    Files.write(other, release("0.3.0", "amd64"));
    Path unsignedFile = dir.resolve("unsigned.tar.gz");
    Files.write(unsignedFile, release("0.4.0", "amd64"));
    Cli.Result noSig = run("agent-releases", "push", unsignedFile.toString());
    assertThat(noSig.exitCode()).isEqualTo(2);
    assertThat(noSig.err()).contains("sign the file first");
    Cli.run(
        "agent-releases",
        "sign",
        "--key",
        dir.resolve("other/release.key").toString(),
        other.toString());
    Cli.Result untrusted = run("agent-releases", "push", other.toString());
    assertThat(untrusted.exitCode()).isEqualTo(1);
    assertThat(untrusted.err())
        .contains("AGENT_RELEASE_KEY_UNTRUSTED")
        .contains("--agent-release-key");

    Cli.Result notRelease =
        Cli.run(
            "agent-releases",
            "sign",
            "--key",
            dir.resolve("keys/release.key").toString(),
            dir.resolve("keys/release.pub").toString());
    assertThat(notRelease.exitCode()).isEqualTo(2);
    assertThat(notRelease.err()).contains("not a readable release");

    // No device matches: the rollout says so and starts nothing.
    Cli.Result rollout =
        run("agent-releases", "rollout", "0.2.0", "--target", "site=nowhere", "--dry-run");
    assertThat(rollout.exitCode()).isEqualTo(1);
    assertThat(rollout.err()).contains("TARGET_MATCHES_NOTHING");

    Cli.Result deleted = run("agent-releases", "delete", "0.2.0", "--yes");
    assertThat(deleted.exitCode()).as(deleted.err()).isZero();
    assertThat(run("agent-releases", "list", "-o", "json").out()).contains("\"items\" : [ ]");
    Cli.Result missing = run("agent-releases", "delete", "0.2.0", "--yes");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("AGENT_RELEASE_NOT_FOUND");
  }

  static byte[] release(String version, String arch) {
    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put(
        "release.json",
        Json.writeBytes(
            new AgentReleaseManifest(
                AgentReleaseManifest.FORMAT,
                version,
                arch,
                "io.edgefleet.agent.command.AgentMain",
                List.of())));
    files.put("lib/edgefleet-agent.jar", ("agent " + version).getBytes());
    return TarGz.write(files);
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
