package io.edgefleet.agent.update;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SlotsFileTest {
  @TempDir Path dir;

  @Test
  void theStateMachineMovesAndRoundTrips() throws Exception {
    SlotsFile.State s = new SlotsFile.State("a", "1.0", null, null, 0, 0, null, null, null, 0);
    assertThat(s.inactive()).isEqualTo("b");
    SlotsFile.State trial = s.withTrial("b", "2.0", Instant.ofEpochSecond(1000));
    SlotsFile.write(dir, trial);
    SlotsFile.State read = SlotsFile.read(dir);
    assertThat(read).isEqualTo(trial);
    assertThat(read.active()).isEqualTo("a");
    assertThat(read.trial()).isEqualTo("b");
    assertThat(read.deadline()).isEqualTo(1000);

    SlotsFile.State confirmed = read.confirmed(Instant.ofEpochSecond(2000));
    assertThat(confirmed.active()).isEqualTo("b");
    assertThat(confirmed.trial()).isNull();
    assertThat(confirmed.outcome()).isEqualTo("confirmed");
    assertThat(confirmed.outcomeVersion()).isEqualTo("2.0");

    SlotsFile.State rolledBack = read.rolledBack("it \"crashed\"\\\n badly", Instant.EPOCH);
    assertThat(rolledBack.active()).isEqualTo("a");
    assertThat(rolledBack.trial()).isNull();
    assertThat(rolledBack.outcome()).isEqualTo("rolled-back");
    assertThat(rolledBack.reason()).isEqualTo("it crashed badly");
  }

  @Test
  void theFileHasTheStartScriptsLayout() throws Exception {
    SlotsFile.write(
        dir, new SlotsFile.State("b", "1.0", "a", "3.0", 42, 1, "rolled-back", "2.0", "why", 7));
    // One "key": value per line: the script reads it with sed.
    assertThat(Files.readAllLines(dir.resolve(SlotsFile.FILE)))
        .containsExactly(
            "{",
            "  \"format\": 1,",
            "  \"active\": \"b\",",
            "  \"seeded\": \"1.0\",",
            "  \"trial\": \"a\",",
            "  \"trialVersion\": \"3.0\",",
            "  \"deadline\": 42,",
            "  \"starts\": 1,",
            "  \"outcome\": \"rolled-back\",",
            "  \"outcomeVersion\": \"2.0\",",
            "  \"reason\": \"why\",",
            "  \"at\": 7",
            "}");
    assertThat(dir.resolve(SlotsFile.FILE + ".tmp")).doesNotExist();
  }

  @Test
  void slotNamesOtherThanAAndBAreNone() {
    SlotsFile.State s = new SlotsFile.State("../x", null, "c", null, 0, 0, null, null, null, 0);
    assertThat(s.active()).isNull();
    assertThat(s.trial()).isNull();
  }
}
