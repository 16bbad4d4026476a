package io.edgefleet.agent.command;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which TPM the agent uses: the one given, the default device when usable, or none. */
class TpmOptionTest {
  @TempDir Path dir;

  @Test
  void theGivenTpmWinsNoTpmOptsOutAndTheDeviceIsUsedWhenPresent() throws Exception {
    Path device = dir.resolve("tpmrm0");
    assertThat(AgentCommand.tpmSpec(null, false, device)).isNull();
    Files.writeString(device, "");
    assertThat(AgentCommand.tpmSpec(null, false, device)).isEqualTo(device.toString());
    assertThat(AgentCommand.tpmSpec(null, true, device)).isNull();
    assertThat(AgentCommand.tpmSpec("tcp://127.0.0.1:2321", false, device))
        .isEqualTo("tcp://127.0.0.1:2321");
  }
}
