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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code deploy}, {@code deployments} and {@code rollouts} against a real controller: tables by
 * default, JSON with {@code -o json}, clear errors for a bad policy and for illegal transitions.
 */
class RolloutCommandsIT {
  @TempDir static Path dir;
  private static Controller controller;

  @BeforeAll
  static void startController() throws Exception {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
    Path manifests = dir.resolve("web");
    Files.createDirectories(manifests);
    Files.writeString(
        manifests.resolve("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {v: \"1\"}\n");
    assertThat(
            run("apps", "push", "web", "--version", "1.0.0", "--manifests", manifests.toString())
                .exitCode())
        .isZero();
    Files.writeString(
        manifests.resolve("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {v: \"2\"}\n");
    assertThat(
            run("apps", "push", "web", "--version", "2.0.0", "--manifests", manifests.toString())
                .exitCode())
        .isZero();
  }

  @AfterAll
  static void stopController() {
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void deployShowsTheDeploymentAndItsRolloutAndAnUpgradeStartsANewOne() throws Exception {
    Path policy = dir.resolve("policy.yaml");
    Files.writeString(policy, "canary: 10%\nwaves: [50%, 50%]\nsoak: 1m\n");
    Cli.Result deployed =
        run(
            "deploy",
            "web@1.0.0",
            "--target",
            "site=nowhere",
            "--rollout",
            policy.toString(),
            "--force");
    assertThat(deployed.exitCode()).as(deployed.err()).isZero();
    assertThat(deployed.out())
        .contains("web@1.0.0")
        .contains("site=nowhere")
        .contains("canary 10%");
    assertThat(deployed.out()).contains("edgefleet rollouts status ro-");

    Cli.Result list = run("deployments", "list");
    assertThat(list.out()).startsWith("NAME").contains("web").contains("1.0.0");

    Cli.Result upgraded = run("deployments", "upgrade", "web@2.0.0", "-o", "json", "--force");
    assertThat(upgraded.exitCode()).as(upgraded.err()).isZero();
    JsonNode d = Json.mapper().readTree(upgraded.out());
    assertThat(d.path("version").asText()).isEqualTo("2.0.0");
    String rollout = d.path("latestRollout").path("id").asText();

    Cli.Result status = run("rollouts", "status", rollout);
    assertThat(status.exitCode()).as(status.err()).isZero();
    assertThat(status.out())
        .contains("1.0.0 → 2.0.0")
        .contains("SUCCEEDED")
        .contains("no device matches the target")
        .contains("PENDING-OFFLINE")
        .contains("OUTSIDE-WINDOW")
        .contains("History:")
        .contains("CREATED");

    // Watching a finished rollout ends at once, with its final state in the exit code.
    Cli.Result watched = run("rollouts", "status", rollout, "--watch", "--interval", "1s");
    assertThat(watched.exitCode()).as(watched.err()).isZero();
    assertThat(watched.out()).startsWith("Every 1s, at ").contains("SUCCEEDED");
    assertThat(watched.out().lines().reduce((a, b) -> b).orElseThrow())
        .startsWith("rollout " + rollout + " SUCCEEDED");

    Cli.Result rollouts = run("rollouts", "list", "--app", "web", "-o", "json");
    JsonNode items = Json.mapper().readTree(rollouts.out()).path("items");
    assertThat(items).hasSize(2);
    assertThat(items.get(0).path("id").asText()).isEqualTo(rollout);

    // A finished rollout cannot be paused: exit 1 with the code and what is allowed.
    Cli.Result pause = run("rollouts", "pause", rollout);
    assertThat(pause.exitCode()).isEqualTo(1);
    assertThat(pause.err()).contains("ROLLOUT_STATE_CONFLICT").contains("SUCCEEDED");

    assertThat(run("deployments", "remove", "web").exitCode()).isZero();
    assertThat(run("deployments", "show", "web").err()).contains("does not exist");
  }

  @Test
  void aDeploymentToEveryDeviceCanBeUpgradedWithoutRepeatingItsTarget() throws Exception {
    assertThat(
            run("deploy", "web@1.0.0", "--name", "everywhere", "--target", "*", "--force")
                .exitCode())
        .isZero();
    Cli.Result upgraded =
        run("deployments", "upgrade", "everywhere", "--version", "2.0.0", "--force");
    assertThat(upgraded.exitCode()).as(upgraded.err()).isZero();
    assertThat(upgraded.out()).contains("web@2.0.0").contains("Target:").contains("*");
  }

  @Test
  void retryingAVersionAfterItsRollbackStartsANewRolloutFromWhatTheDevicesRun() throws Exception {
    assertThat(
            run("deploy", "web@1.0.0", "--name", "retry", "--target", "site=nowhere", "--force")
                .exitCode())
        .isZero();
    Cli.Result upgraded =
        run("deployments", "upgrade", "retry", "--version", "2.0.0", "-o", "json", "--force");
    assertThat(upgraded.exitCode()).as(upgraded.err()).isZero();
    String first = Json.mapper().readTree(upgraded.out()).path("latestRollout").path("id").asText();
    Cli.Result rolledBack = run("rollouts", "rollback", first);
    assertThat(rolledBack.exitCode()).as(rolledBack.err()).isZero();

    Cli.Result retried =
        run("deployments", "upgrade", "retry", "--version", "2.0.0", "-o", "json", "--force");
    assertThat(retried.exitCode()).as(retried.err()).isZero();
    JsonNode latest = Json.mapper().readTree(retried.out()).path("latestRollout");
    assertThat(latest.path("id").asText()).isNotEqualTo(first);
    assertThat(latest.path("fromRevision").asText()).isEqualTo("1.0.0");
    assertThat(latest.path("toRevision").asText()).isEqualTo("2.0.0");
    assertThat(latest.path("createdBy").asText()).isNotEmpty();
    assertThat(run("deployments", "remove", "retry").exitCode()).isZero();
  }

  @Test
  void aBadPolicyIsRefusedWithEveryProblemAndNothingIsStored() throws Exception {
    Path policy = dir.resolve("bad.yaml");
    Files.writeString(policy, "canery: 10%\nwaves: [150%]\nonFailure: explode\n");
    Cli.Result r =
        run(
            "deploy",
            "web@1.0.0",
            "--name",
            "bad",
            "--target",
            "*",
            "--rollout",
            policy.toString());
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err())
        .contains("ROLLOUT_POLICY_INVALID")
        .contains("canery")
        .contains("150%")
        .contains("explode");
    assertThat(run("deployments", "show", "bad").exitCode()).isEqualTo(1);

    Cli.Result unknown = run("deploy", "web@9.9.9", "--name", "bad", "--target", "*", "--force");
    assertThat(unknown.exitCode()).isEqualTo(1);
    assertThat(unknown.err()).contains("9.9.9").contains("1.0.0");
  }

  @Test
  void aDeployToATargetMatchingNoDeviceIsRefusedUnlessForcedAndADryRunChangesNothing()
      throws Exception {
    Cli.Result refused = run("deploy", "web@1.0.0", "--name", "typo", "--target", "site=berln");
    assertThat(refused.exitCode()).isEqualTo(1);
    assertThat(refused.err())
        .contains("(TARGET_MATCHES_NOTHING)")
        .contains("target 'site=berln' matches none of the 0 active device(s)")
        .contains("devices list --selector 'site=berln'")
        .contains("--force");
    assertThat(run("deployments", "show", "typo").exitCode()).isEqualTo(1);

    Cli.Result dry =
        run("deploy", "web@1.0.0", "--name", "typo", "--target", "site=berln", "--dry-run");
    assertThat(dry.exitCode()).as(dry.err()).isZero();
    assertThat(dry.out())
        .contains("Deployment:")
        .contains("typo")
        .contains("site=berln (0 of 0 active device(s))")
        .contains("matches none")
        .contains("Dry run: nothing was changed.");
    JsonNode plan =
        Json.mapper()
            .readTree(
                run(
                        "deploy",
                        "web@1.0.0",
                        "--name",
                        "typo",
                        "--target",
                        "*",
                        "--dry-run",
                        "-o",
                        "json")
                    .out());
    assertThat(plan.path("revision").asText()).isEqualTo("1.0.0");
    assertThat(plan.path("startsRollout").asBoolean()).isTrue();
    assertThat(plan.path("problems").get(0).path("code").asText())
        .isEqualTo("TARGET_MATCHES_NOTHING");
    assertThat(run("deployments", "show", "typo").exitCode()).isEqualTo(1);

    assertThat(
            run("deploy", "web@1.0.0", "--name", "typo", "--target", "site=berln", "--force")
                .exitCode())
        .isZero();
    Cli.Result upgradeDry = run("deployments", "upgrade", "typo@2.0.0", "--dry-run");
    assertThat(upgradeDry.exitCode()).as(upgradeDry.err()).isZero();
    assertThat(upgradeDry.out()).contains("web@1.0.0 → web@2.0.0").contains("1.0.0 → 2.0.0");
    assertThat(run("deployments", "show", "typo", "-o", "json").out()).contains("\"1.0.0\"");
    assertThat(run("deployments", "remove", "typo", "--yes").exitCode()).isZero();
  }

  private static Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
