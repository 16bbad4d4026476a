package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The README's main command, in-process: the whole story (enrollment, delivery from Git, a phased
 * rollout with a device offline, convergence) reaches its final line, and the demo cleans up.
 */
class DemoCommandIT {

  @Test
  void demoTellsTheWholeStoryAndCleansUp() {
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int exit;
    try {
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      exit = Main.commandLine().execute("demo", "--devices", "6", "--for", "0s");
    } finally {
      System.setOut(original);
    }
    String out = captured.toString(StandardCharsets.UTF_8);
    original.println(out);
    assertThat(exit).as(out).isZero();
    for (int step = 1; step <= 5; step++) {
      assertThat(out).contains("[" + step + "/5] ");
    }
    assertThat(out).contains("enrolling: 6/6 enrolled, 6/6 online");
    assertThat(out).contains("hello: 6/6 devices READY");
    assertThat(out).containsPattern("rollout ro-[a-z0-9]+ of hello 1.0 succeeded");
    assertThat(out).containsPattern("rig-4 is OFFLINE after [0-9.]+s: ");
    assertThat(out).contains("rig-4 is offline: the rollout counts it pending-offline, not failed");
    assertThat(out).containsPattern("\\(1 pending-offline\\)");
    assertThat(out)
        .containsPattern("SUCCEEDED  canary 1/1 · wave-1 [0-9]/[0-9] · rest [0-9]/[0-9]");
    assertThat(out).contains("rig-4 is back ONLINE and runs sha256:");
    assertThat(out).containsPattern("console: +https://127\\.0\\.0\\.1:[0-9]+/#token=efa_");
    assertThat(out).contains("./edgefleet devices list");
    assertThat(out)
        .containsPattern(
            "demo done in [0-9.]+s: 6/6 devices online; hello READY on 6/6 devices; rollout"
                + " ro-[a-z0-9]+ succeeded \\(canary 1, wave-1 [0-9], rest [0-9]\\) with 0 failed;"
                + " rig-4 was offline [0-9]+s, pending-offline, and converged");
    assertThat(out).doesNotContain("demo failed").doesNotContain("superseded");
    String dir = out.lines().filter(l -> l.startsWith("edgefleet demo:")).findFirst().orElseThrow();
    assertThat(java.nio.file.Path.of(dir.substring(dir.lastIndexOf(' ') + 1))).doesNotExist();
  }

  @Test
  void everyRoleAndVerbIsRegistered() {
    assertThat(Main.commandLine().getSubcommands().keySet())
        .contains("controller", "agent", "demo", "devices", "onboarding");
  }
}
