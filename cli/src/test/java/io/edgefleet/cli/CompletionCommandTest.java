package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CompletionCommandTest {

  @Test
  void bashCompletesVerbsAndFlagsOfTheWholeTree() {
    Cli.Result r = Cli.run("completion", "bash");

    assertThat(r.exitCode()).as(r.err()).isZero();
    assertThat(r.out())
        .contains("complete -F _complete_edgefleet")
        .contains("devices")
        .contains("preregister")
        .contains("--status");
  }

  @Test
  void zshLoadsBashCompletionFirst() {
    Cli.Result r = Cli.run("completion", "zsh");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).startsWith("autoload -U +X compinit && compinit\n");
    assertThat(r.out()).contains("bashcompinit").contains("_complete_edgefleet");
  }

  @Test
  void fishCompletesVerbsAfterTheirGroupAndFlagsOnTheirCommand() {
    Cli.Result r = Cli.run("completion", "fish");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out())
        .contains("complete -c edgefleet -n '__fish_use_subcommand' -a devices -d 'List, inspect")
        .contains(
            "complete -c edgefleet -n '__fish_seen_subcommand_from devices; and not"
                + " __fish_seen_subcommand_from list")
        .contains(
            "complete -c edgefleet -n '__fish_seen_subcommand_from devices; and"
                + " __fish_seen_subcommand_from list' -l status -r");
  }

  @Test
  void anUnknownShellIsExitTwo() {
    Cli.Result r = Cli.run("completion", "tcsh");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("'tcsh' is not a shell: use bash, zsh or fish");
  }
}
