package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code artifacts} against a real controller: push a file (streamed, its digest checked), list it
 * as a table and as JSON, refuse a file above the controller's limit, delete it.
 */
class ArtifactsCommandIT {
  @TempDir Path dir;
  private Controller controller;

  @BeforeEach
  void startController() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller"))
                .withListen("127.0.0.1", 0)
                .withMaxArtifactBytes(64 * 1024),
            Clock.systemUTC());
  }

  @AfterEach
  void stopController() {
    controller.close();
  }

  @Test
  void artifactsFromPushToDelete() throws Exception {
    Path k3s = dir.resolve("k3s");
    byte[] bytes = new byte[40_000];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i * 31);
    }
    Files.write(k3s, bytes);
    String digest = ArtifactsCommand.digest(k3s);

    Cli.Result pushed =
        run("artifacts", "push", k3s.toString(), "--kind", "k3s", "--version", "v1.20.2+k3s1");
    assertThat(pushed.exitCode()).as(pushed.err()).isZero();
    assertThat(pushed.out()).contains(digest).contains("v1.20.2+k3s1").contains("amd64");
    // The version keeps its '+' through the query string.
    assertThat(
            Files.readAllBytes(dir.resolve("controller/artifacts/sha256/" + digest.substring(7))))
        .isEqualTo(bytes);

    Cli.Result list = run("artifacts", "list");
    assertThat(list.exitCode()).as(list.err()).isZero();
    assertThat(list.out()).startsWith("KIND").contains("v1.20.2+k3s1").contains("39.1 KiB");
    JsonNode items =
        Json.mapper().readTree(run("artifacts", "list", "-o", "json").out()).path("items");
    assertThat(items).hasSize(1);
    assertThat(items.get(0).path("digest").asText()).isEqualTo(digest);
    assertThat(items.get(0).path("size").asLong()).isEqualTo(bytes.length);

    Path big = dir.resolve("big");
    Files.write(big, new byte[70 * 1024]);
    Cli.Result tooBig =
        run("artifacts", "push", big.toString(), "--kind", "k3s", "--version", "v1.21.0+k3s1");
    assertThat(tooBig.exitCode()).isEqualTo(1);
    assertThat(tooBig.err()).contains("ARTIFACT_TOO_LARGE").contains("--max-artifact-bytes");

    Cli.Result noFile =
        run(
            "artifacts",
            "push",
            dir.resolve("nope").toString(),
            "--kind",
            "k3s",
            "--version",
            "v1");
    assertThat(noFile.exitCode()).isEqualTo(2);
    assertThat(noFile.err()).contains("is not a file");
    Cli.Result noVersion = run("artifacts", "push", k3s.toString(), "--kind", "k3s");
    assertThat(noVersion.exitCode()).isEqualTo(2);
    assertThat(noVersion.err()).contains("--version");

    Cli.Result badDigest = run("artifacts", "delete", "abc", "--yes");
    assertThat(badDigest.exitCode()).isEqualTo(2);
    Cli.Result deleted = run("artifacts", "delete", digest, "--yes");
    assertThat(deleted.exitCode()).as(deleted.err()).isZero();
    assertThat(run("artifacts", "list", "-o", "json").out()).contains("\"items\" : [ ]");
    Cli.Result missing = run("artifacts", "delete", digest, "--yes");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("NOT_FOUND");
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
