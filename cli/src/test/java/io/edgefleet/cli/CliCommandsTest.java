package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Registration and input validation; every case here fails before any network call. */
class CliCommandsTest {
  // Nothing listens on port 9 of the TEST-NET address; a test that got past validation would fail.
  private static final String[] CONNECTION = {
    "--server",
    "https://192.0.2.1:9",
    "--token",
    "t",
    "--ca-fingerprint",
    "sha256:" + "a".repeat(64)
  };

  @Test
  void commandsAreFreshInstancesOfEachVerbGroup() {
    var first = CliCommands.commands();
    var second = CliCommands.commands();

    assertThat(first.keySet())
        .containsExactly(
            "onboarding",
            "devices",
            "repos",
            "apps",
            "deploy",
            "deployments",
            "rollouts",
            "profiles",
            "alerts",
            "fleet",
            "events",
            "audit",
            "logs",
            "kubeconfig",
            "port-forward",
            "shell",
            "cp",
            "sessions",
            "signing-key",
            "secrets",
            "clusters",
            "artifacts",
            "agent-releases",
            "download-policies",
            "export",
            "login",
            "whoami",
            "users",
            "roles",
            "projects",
            "tokens",
            "completion");
    assertThat(first.get("devices")).isNotSameAs(second.get("devices"));
  }

  @Test
  void registersEveryVerbUnderTheLauncherRoot() {
    CommandLine root = Cli.commandLine();

    assertThat(root.getSubcommands().get("onboarding").getSubcommands())
        .containsOnlyKeys("create", "list", "revoke", "bootstrap");
    assertThat(
            root.getSubcommands()
                .get("devices")
                .getSubcommands()
                .get("attestation")
                .getSubcommands())
        .containsOnlyKeys("show", "accept", "pin", "references", "unpin");
    assertThat(root.getSubcommands().get("devices").getSubcommands())
        .containsOnlyKeys(
            "list",
            "get",
            "show",
            "attestation",
            "rename",
            "tag",
            "untag",
            "approve",
            "reject",
            "decommission",
            "preregister",
            "preregistrations",
            "apps",
            "events",
            "metrics");
    assertThat(root.getSubcommands().get("repos").getSubcommands())
        .containsOnlyKeys("add", "list", "get", "remove", "sync", "history", "diff");
    assertThat(root.getSubcommands().get("apps").getSubcommands())
        .containsOnlyKeys("push", "list", "versions", "show", "status");
    assertThat(root.getSubcommands().get("deployments").getSubcommands())
        .containsOnlyKeys("list", "show", "upgrade", "remove");
    assertThat(root.getSubcommands().get("rollouts").getSubcommands())
        .containsOnlyKeys("list", "status", "pause", "resume", "abort", "rollback");
    assertThat(root.getSubcommands().get("profiles").getSubcommands())
        .containsOnlyKeys("create", "publish", "list", "get", "diff");
    assertThat(root.getSubcommands().get("signing-key").getSubcommands())
        .containsOnlyKeys("list", "rotate", "retire");
  }

  @Test
  void reposAddUsesTokenForTheApiAndGitTokenForTheRepository() {
    Cli.Result r = Cli.run("repos", "add", "--help");

    assertThat(r.out()).contains("--token=TOKEN", "--git-token=TOKEN", "EDGEFLEET_GIT_TOKEN");
  }

  @Test
  void badRepositoryNameIsExitTwoNamingTheValue() {
    Cli.Result r = run("repos", "add", "Shop_Apps", "--url", "file:///srv/git", "--target", "");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err())
        .contains("'Shop_Apps' is not a repository name")
        .contains("try 'edgefleet repos add --help'");
  }

  @Test
  void reposAddNeedsUrlAndTarget() {
    assertThat(run("repos", "add", "shop", "--target", "").err())
        .contains("Missing required option: '--url=URL'");
    assertThat(run("repos", "add", "shop", "--url", "file:///srv/git").err())
        .contains("Missing required option: '--target=SELECTOR'");
  }

  @Test
  void sshKeyAndGitTokenTogetherAreExitTwo(@TempDir Path dir) throws IOException {
    Path key =
        Files.writeString(
            dir.resolve("key"), "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n");

    Cli.Result r =
        run(
            "repos",
            "add",
            "shop",
            "--url",
            "git@git.example:shop.git",
            "--target",
            "",
            "--ssh-key",
            key.toString(),
            "--git-token",
            "ght_1");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err())
        .contains("--ssh-key and --git-token cannot be used together")
        .contains("try 'edgefleet repos add --help'");
  }

  @Test
  void missingSshKeyFileIsExitTwo(@TempDir Path dir) {
    Path key = dir.resolve("id_ed25519");

    Cli.Result r =
        run(
            "repos",
            "add",
            "shop",
            "--url",
            "git@git.example:shop.git",
            "--target",
            "site=s1",
            "--ssh-key",
            key.toString());

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("ssh key file " + key + " does not exist");
  }

  @Test
  void badIntervalShaAndLimitAreExitTwo() {
    Cli.Result interval =
        run("repos", "add", "shop", "--url", "u", "--target", "", "--interval", "1w");
    Cli.Result sha = run("repos", "diff", "shop", "main");
    Cli.Result limit = run("repos", "history", "shop", "--limit", "0");
    Cli.Result events = run("devices", "events", "d-1", "--limit", "5000");

    assertThat(interval.exitCode()).isEqualTo(2);
    assertThat(interval.err()).contains("'1w' is not a positive duration");
    assertThat(sha.exitCode()).isEqualTo(2);
    assertThat(sha.err()).contains("'main' is not a commit SHA");
    assertThat(limit.exitCode()).isEqualTo(2);
    assertThat(limit.err()).contains("'0' is not a limit");
    assertThat(events.exitCode()).isEqualTo(2);
    assertThat(events.err()).contains("'5000' is not a limit");
  }

  @Test
  void leafHelpListsTheConnectionOptions() {
    Cli.Result r = Cli.run("devices", "list", "--help");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out())
        .contains("--server=URL", "--token=TOKEN", "--ca-fingerprint", "--config=FILE", "--output");
  }

  @Test
  void bootstrapUsesTokenForTheOnboardingTokenAndApiTokenForTheApi() {
    Cli.Result r = Cli.run("onboarding", "bootstrap", "--help");

    assertThat(r.out()).contains("--token=ONBOARDING_TOKEN", "--api-token=TOKEN");
  }

  @Test
  void anUnknownFlagIsOneErrorLineAndAHintNotTheUsage() {
    Cli.Result r = run("devices", "list", "--stauts", "ONLINE");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err().lines().toList())
        .first()
        .isEqualTo("error: Unknown options: '--stauts', 'ONLINE'");
    assertThat(r.err()).contains("try 'edgefleet devices list --help'").doesNotContain("Usage:");
    assertThat(r.err().lines().count()).isLessThanOrEqualTo(4);
  }

  @Test
  void aMistypedVerbSuggestsTheRightOne() {
    Cli.Result r = Cli.run("devices", "lst");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err())
        .contains("Unmatched argument")
        .contains("list")
        .contains("try 'edgefleet devices --help'");
  }

  @Test
  void aMissingRolloutPolicyFileIsNamedOnceWithWhatIsWrong(@TempDir Path dir) {
    Path policy = dir.resolve("canary.yaml");

    Cli.Result r =
        run("deploy", "web@1.0.0", "--target", "site=s1", "--rollout", policy.toString());

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err())
        .startsWith("error: cannot read rollout policy " + policy + ": no such file\n");
  }

  @Test
  void groupWithoutVerbShowsUsage() {
    Cli.Result r = Cli.run("devices");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Missing required subcommand").contains("preregister");
  }

  @Test
  void badTagIsExitTwoNamingTheValueWithUsage() {
    Cli.Result r = run("onboarding", "create", "--tag", "site=store 17");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err())
        .contains("'store 17'")
        .contains("try 'edgefleet onboarding create --help'")
        .doesNotContain("Usage:");
  }

  @Test
  void tagWithoutEqualsOnDevicesTagIsExitTwo() {
    Cli.Result r = run("devices", "tag", "d-1", "site");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'site' is not KEY=VALUE");
  }

  @Test
  void badUntagKeyIsExitTwo() {
    Cli.Result r = run("devices", "untag", "d-1", "bad key");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("tag key 'bad key' is invalid");
  }

  @Test
  void duplicateTagKeyIsExitTwo() {
    Cli.Result r = run("devices", "preregister", "--serial", "SN1", "--tag", "a=1", "--tag", "a=2");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err())
        .contains("'a' is given twice")
        .contains("try 'edgefleet devices preregister --help'");
  }

  @Test
  void usesBelowOneIsExitTwo() {
    Cli.Result r = run("onboarding", "create", "--uses", "0");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'0' is not a whole number of at least 1");
  }

  @Test
  void badExpiryIsExitTwo() {
    Cli.Result r = run("onboarding", "create", "--expires", "1w");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'1w' is not a positive duration");
  }

  @Test
  void unknownStatusAndOutputAreExitTwo() {
    assertThat(run("devices", "list", "--status", "sleeping").err())
        .contains("'sleeping' is not a device status");
    assertThat(run("devices", "list", "-o", "yaml").err())
        .contains("'yaml' is not an output format");
  }

  @Test
  void badFingerprintIsExitTwoWithoutUsageNoise() {
    Cli.Result r =
        Cli.run(
            "devices",
            "list",
            "--server",
            "https://192.0.2.1:9",
            "--token",
            "t",
            "--ca-fingerprint",
            "sha256:nope");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err())
        .isEqualTo(
            "error: 'sha256:nope' is not a CA fingerprint: expected sha256: followed by 64 hex"
                + " digits (from --ca-fingerprint)"
                + System.lineSeparator());
  }

  private static Cli.Result run(String... args) {
    String[] all = new String[args.length + CONNECTION.length];
    System.arraycopy(args, 0, all, 0, args.length);
    System.arraycopy(CONNECTION, 0, all, args.length, CONNECTION.length);
    return Cli.run(all);
  }
}
