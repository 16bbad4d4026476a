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
 * {@code profiles} against a real controller: create from a YAML file, publish the next version,
 * list and get as tables and JSON, diff two versions; refusals with their codes; {@code deploy
 * --scope cluster}.
 */
class ProfilesCommandIT {
  @TempDir Path dir;
  private Controller controller;

  @BeforeEach
  void startController() throws Exception {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
    for (String version : new String[] {"1.0.0", "1.1.0"}) {
      Path app = Files.createDirectories(dir.resolve("web-" + version));
      Files.writeString(
          app.resolve("cfg.yaml"),
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  version: \""
              + version
              + "\"\n");
      Cli.Result pushed =
          run("apps", "push", "web", "--version", version, "--manifests", app.toString());
      assertThat(pushed.exitCode()).as(pushed.err()).isZero();
    }
  }

  @AfterEach
  void stopController() {
    controller.close();
  }

  @Test
  void profilesFromCreationToDiff() throws Exception {
    Path v1 = dir.resolve("edge-v1.yaml");
    Files.writeString(
        v1,
        """
        description: stores
        layers:
          - name: k3s
            kind: kubernetes
            kubernetesVersion: v1.20.2+k3s1
            config:
              disable: [traefik]
          - name: web
            kind: addon
            app: web
            version: 1.0.0
        """);
    Path v2 = dir.resolve("edge-v2.yaml");
    Files.writeString(
        v2,
        """
        layers:
          - name: k3s
            kind: kubernetes
            kubernetesVersion: v1.20.4+k3s1
            config:
              disable: [traefik]
          - name: web
            kind: addon
            app: web
            version: 1.1.0
        rollout:
          canary: 1
          onFailure: rollback
        """);

    Cli.Result created = run("profiles", "create", "edge", "--select", "env=prod", "-f", v1 + "");
    assertThat(created.exitCode()).as(created.err()).isZero();
    assertThat(created.out()).contains("edge").contains("env=prod").contains("edge@1");

    Cli.Result published = run("profiles", "publish", "edge", "-f", v2.toString());
    assertThat(published.exitCode()).as(published.err()).isZero();
    assertThat(published.out())
        .contains("edge@2")
        .contains("K3s v1.20.4+k3s1")
        .contains("web@1.1.0");

    Cli.Result again = run("profiles", "publish", "edge@2", "-f", v2.toString());
    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(again.err()).contains("PROFILE_VERSION_EXISTS");

    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "layers:\n  - {name: web, kind: addon, app: web, version: 9.9.9}\n");
    Cli.Result invalid = run("profiles", "publish", "edge", "-f", bad.toString());
    assertThat(invalid.exitCode()).isEqualTo(1);
    assertThat(invalid.err()).contains("PROFILE_LAYER_INVALID").contains("layer 'web'");

    Cli.Result noLayers =
        run("profiles", "publish", "edge", "-f", v1.resolveSibling("x.yaml") + "");
    assertThat(noLayers.exitCode()).isEqualTo(2);
    assertThat(noLayers.err()).contains("cannot read profile file");

    Cli.Result list = run("profiles", "list");
    assertThat(list.exitCode()).as(list.err()).isZero();
    assertThat(list.out()).startsWith("NAME").contains("edge").contains("env=prod");
    JsonNode items = Json.mapper().readTree(run("profiles", "list", "-o", "json").out());
    assertThat(items.path("items").get(0).path("latestVersion").asInt()).isEqualTo(2);

    Cli.Result get = run("profiles", "get", "edge");
    assertThat(get.exitCode()).as(get.err()).isZero();
    assertThat(get.out()).contains("edge@1").contains("edge@2").contains("stores");
    Cli.Result version = run("profiles", "get", "edge@1");
    assertThat(version.out()).contains("K3s v1.20.2+k3s1").contains("web@1.0.0");

    Cli.Result diff = run("profiles", "diff", "edge@1", "edge@2");
    assertThat(diff.exitCode()).as(diff.err()).isZero();
    assertThat(diff.out())
        .contains("edge@1 -> edge@2")
        .contains("k3s")
        .contains("changed")
        .contains("restart");
    JsonNode d = Json.mapper().readTree(run("profiles", "diff", "edge@1", "2", "-o", "json").out());
    assertThat(d.path("nodesRestart").asBoolean()).isTrue();
    assertThat(d.path("layers")).hasSize(2);

    Cli.Result otherProfile = run("profiles", "diff", "edge@1", "base@2");
    assertThat(otherProfile.exitCode()).isEqualTo(2);
    assertThat(otherProfile.err()).contains("different profiles");
    Cli.Result missing = run("profiles", "get", "nope");
    assertThat(missing.exitCode()).isEqualTo(1);
    assertThat(missing.err()).contains("NOT_FOUND");
  }

  @Test
  void deployWithClusterScope() throws Exception {
    Cli.Result deployed =
        run(
            "deploy",
            "web@1.0.0",
            "--target",
            "env=prod",
            "--scope",
            "cluster",
            "--force",
            "-o",
            "json");
    assertThat(deployed.exitCode()).as(deployed.err()).isZero();
    assertThat(Json.mapper().readTree(deployed.out()).path("scope").asText()).isEqualTo("cluster");
    assertThat(run("deployments", "show", "web").out()).contains("cluster");
    assertThat(run("deployments", "list").out()).contains("per cluster");

    Cli.Result wrong = run("deploy", "web@1.0.0", "--name", "w2", "--target", "*", "--scope", "x");
    assertThat(wrong.exitCode()).isEqualTo(2);
    assertThat(wrong.err()).contains("--scope");
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
