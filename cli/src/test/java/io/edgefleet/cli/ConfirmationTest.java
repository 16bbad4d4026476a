package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Destructive verbs ask on a terminal before anything is sent; {@code --yes} and a script (no
 * terminal) go ahead. "Went ahead" shows as the next step's error: without a configured controller
 * the call stops at resolving the connection, which a cancelled verb never reaches.
 */
class ConfirmationTest {
  private static final String NO_CONTROLLER = "--server=https://127.0.0.1:1";

  private final List<String> asked = new ArrayList<>();
  private Confirmation.Prompt before;

  private void answering(boolean interactive, String answer) {
    before =
        Confirmation.use(
            new Confirmation.Prompt() {
              @Override
              public boolean interactive() {
                return interactive;
              }

              @Override
              public String ask(String question) {
                asked.add(question);
                return answer;
              }
            });
  }

  @AfterEach
  void restore() {
    if (before != null) {
      Confirmation.use(before);
    }
  }

  @Test
  void noOnATerminalCancelsBeforeAnythingIsSent() {
    answering(true, "n");

    Cli.Result r = Cli.run("devices", "decommission", "d-1", NO_CONTROLLER);

    assertThat(asked)
        .containsExactly(
            "Decommission device d-1? Its certificate stops working and it is disconnected."
                + " [y/N] ");
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err()).startsWith("cancelled: nothing was changed");
  }

  @Test
  void endOfInputIsNo() {
    answering(true, null);

    Cli.Result r = Cli.run("rollouts", "rollback", "r-1", NO_CONTROLLER);

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err()).startsWith("cancelled:");
  }

  @ParameterizedTest
  @ValueSource(strings = {"y", "yes", " YES "})
  void yesOnATerminalGoesAhead(String answer) {
    answering(true, answer);

    Cli.Result r = Cli.run("deployments", "remove", "pos", NO_CONTROLLER);

    assertThat(asked).hasSize(1);
    assertThat(r.err()).doesNotContain("cancelled");
  }

  @Test
  void dashDashYesAsksNothing() {
    answering(true, "n");

    Cli.Result r = Cli.run("repos", "remove", "shop", "--yes", NO_CONTROLLER);

    assertThat(asked).isEmpty();
    assertThat(r.err()).doesNotContain("cancelled");
  }

  @Test
  void withoutATerminalNothingIsAsked() {
    answering(false, "n");

    Cli.Result r = Cli.run("onboarding", "revoke", "obt-1", NO_CONTROLLER);

    assertThat(asked).isEmpty();
    assertThat(r.err()).doesNotContain("cancelled");
  }

  @Test
  void everyDestructiveVerbAsks() {
    answering(true, "n");
    List<String[]> verbs =
        List.of(
            new String[] {"devices", "decommission", "d-1"},
            new String[] {"devices", "reject", "d-1"},
            new String[] {"rollouts", "abort", "r-1"},
            new String[] {"rollouts", "rollback", "r-1"},
            new String[] {"deployments", "remove", "pos"},
            new String[] {"repos", "remove", "shop"},
            new String[] {"alerts", "rules", "remove", "offline"},
            new String[] {"alerts", "receivers", "remove", "pager"},
            new String[] {"onboarding", "revoke", "obt-1"});
    for (String[] verb : verbs) {
      Cli.Result r = Cli.run(verb);
      assertThat(r.err()).as(String.join(" ", verb)).startsWith("cancelled:");
    }
    assertThat(asked).hasSize(verbs.size());
    // Pausing is not destructive: nothing asked.
    Cli.Result pause = Cli.run("rollouts", "pause", "r-1", NO_CONTROLLER);
    assertThat(pause.err()).doesNotContain("cancelled");
    assertThat(asked).hasSize(verbs.size());
  }
}
