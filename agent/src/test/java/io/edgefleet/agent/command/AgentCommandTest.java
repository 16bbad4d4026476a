package io.edgefleet.agent.command;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The agent's options are checked before it starts. */
class AgentCommandTest {
  @TempDir Path dir;

  @Test
  void aNameThatIsNoValidDeviceNameIsAUsageErrorSayingWhatIsAllowed() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream original = System.err;
    int code;
    try {
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      code =
          new CommandLine(new AgentCommand())
              .execute(
                  "--bootstrap",
                  dir.resolve("bootstrap.json").toString(),
                  "--state",
                  dir.resolve("state").toString(),
                  "--name",
                  "till 7!");
    } finally {
      System.setErr(original);
    }
    assertThat(code).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .startsWith("error: --name: the device name 'till 7!' is invalid")
        .contains("letters, digits");
  }

  private String errorOf(String... extra) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream original = System.err;
    String[] args = new String[extra.length + 4];
    args[0] = "--bootstrap";
    args[1] = dir.resolve("bootstrap.json").toString();
    args[2] = "--state";
    args[3] = dir.resolve("state").toString();
    System.arraycopy(extra, 0, args, 4, extra.length);
    int code;
    try {
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      code = new CommandLine(new AgentCommand()).execute(args);
    } finally {
      System.setErr(original);
    }
    assertThat(code).isEqualTo(2);
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void theUpdateTrialAndSlotsAreChecked() {
    assertThat(errorOf("--update-trial", "1s"))
        .startsWith("error: --update-trial must be between 5s and 24h");
    assertThat(errorOf("--update-trial", "soon")).startsWith("error: --update-trial: ");
    assertThat(errorOf("--slots", dir.resolve("missing").toString()))
        .startsWith("error: --slots: ")
        .contains("is not a directory");
  }
}
