package io.edgefleet.agent.shell;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ShellHandlerTest {
  @Test
  void theShellGetsALoginEnvironmentNotTheAgents() {
    Map<String, String> env = ShellHandler.environment("xterm-256color", "/bin/sh");
    assertThat(env)
        .containsEntry("TERM", "xterm-256color")
        .containsEntry("SHELL", "/bin/sh")
        .containsKeys("PATH", "HOME", "USER", "LOGNAME");
    assertThat(env.keySet())
        .isSubsetOf("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "SHELL", "TERM");
  }

  @Test
  void theDefaultShellIsALoginShell() {
    assertThat(ShellHandler.defaultShell("/bin/sh")).containsExactly("/bin/sh", "-l");
    assertThat(ShellHandler.defaultShell("/no/such/shell")).containsExactly("/bin/sh", "-l");
  }
}
