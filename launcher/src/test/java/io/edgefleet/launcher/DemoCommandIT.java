package io.edgefleet.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The README's main command, in-process: a controller and agents that enroll and go online. */
class DemoCommandIT {

  @Test
  void demoBringsItsWholeFleetOnlineAndCleansUp() {
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int exit;
    try {
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      exit = Main.commandLine().execute("demo", "--devices", "8", "--for", "1s");
    } finally {
      System.setOut(original);
    }
    String out = captured.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(out).isZero();
    assertThat(out).contains("fleet: 8/8 online");
    assertThat(out).contains("try next:  EDGEFLEET_CONFIG=");
    assertThat(out).containsPattern("token: +efa_");
    String dir = out.lines().filter(l -> l.startsWith("edgefleet demo:")).findFirst().orElseThrow();
    assertThat(java.nio.file.Path.of(dir.substring(dir.lastIndexOf(' ') + 1))).doesNotExist();
  }

  @Test
  void everyRoleAndVerbIsRegistered() {
    assertThat(Main.commandLine().getSubcommands().keySet())
        .contains("controller", "agent", "demo", "devices", "onboarding");
  }
}
