package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
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

    assertThat(first).containsOnlyKeys("onboarding", "devices");
    assertThat(first.get("devices")).isNotSameAs(second.get("devices"));
  }

  @Test
  void registersEveryVerbUnderTheLauncherRoot() {
    CommandLine root = Cli.commandLine();

    assertThat(root.getSubcommands().get("onboarding").getSubcommands())
        .containsOnlyKeys("create", "list", "revoke", "bootstrap");
    assertThat(root.getSubcommands().get("devices").getSubcommands())
        .containsOnlyKeys(
            "list",
            "get",
            "tag",
            "untag",
            "approve",
            "reject",
            "decommission",
            "preregister",
            "preregistrations");
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
  void groupWithoutVerbShowsUsage() {
    Cli.Result r = Cli.run("devices");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Missing required subcommand").contains("preregister");
  }

  @Test
  void badTagIsExitTwoNamingTheValueWithUsage() {
    Cli.Result r = run("onboarding", "create", "--tag", "site=store 17");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'store 17'").contains("Usage:");
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
    assertThat(r.err()).contains("'a' is given twice").contains("Usage:");
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
