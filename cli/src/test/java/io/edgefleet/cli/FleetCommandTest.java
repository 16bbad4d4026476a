package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import org.junit.jupiter.api.Test;

/** Rendering of the fleet summary; the input is the API's JSON. */
class FleetCommandTest {

  @Test
  void theSentenceComesFirstThenTheCountsPerStatus() {
    String out =
        FleetCommand.render(
            json(
                "{\"total\":2004,\"online\":1990,\"degraded\":0,\"error\":1,\"offline\":3,"
                    + "\"neverSeen\":0,\"pending\":0,\"rejected\":0,\"decommissioned\":10,"
                    + "\"sentence\":\"99.5 % of 2,000 devices are operational (1,990 online,"
                    + " 0 degraded); 6 in maintenance; 1 in error; 3 offline, the longest for 14h;"
                    + " 0 never seen\"}"));

    assertThat(out.lines())
        .containsExactly(
            "99.5 % of 2,000 devices are operational (1,990 online, 0 degraded); 6 in"
                + " maintenance; 1 in error; 3 offline, the longest for 14h; 0 never seen.",
            "",
            "STATUS          DEVICES",
            "online          1,990",
            "degraded        0",
            "error           1",
            "offline         3",
            "never seen      0",
            "pending         0",
            "rejected        0",
            "decommissioned  10");
  }

  @Test
  void byATagOneRowPerValueAndTheDevicesWithoutItLast() {
    String out =
        FleetCommand.render(
            json(
                "{\"sentence\":\"s\",\"selector\":\"region=eu\",\"by\":\"site\",\"groups\":["
                    + "{\"value\":\"store-1\",\"enrolled\":4,\"operational\":3,"
                    + "\"operationalPercent\":75.0,\"online\":2,\"degraded\":1,\"error\":0,"
                    + "\"offline\":1,\"neverSeen\":0,\"maintenance\":0,\"updating\":1},"
                    + "{\"enrolled\":3,\"operational\":2,\"operationalPercent\":66.6,"
                    + "\"online\":2,\"offline\":0,\"neverSeen\":1,\"maintenance\":0}]}"));

    assertThat(out.lines())
        .containsExactly(
            "Devices matching region=eu: s.",
            "",
            "SITE     DEVICES  OPERATIONAL  ONLINE  DEGRADED  ERROR  OFFLINE  NEVER SEEN"
                + "  MAINTENANCE  UPDATING",
            "store-1  4        75 %         2       1         0      1        0           0"
                + "            1",
            "-        3        66.6 %       2       0         0      0        1           0"
                + "            0");
  }

  @Test
  void summaryIsAVerbWithItsOptions() {
    Cli.Result help = Cli.run("fleet", "summary", "--help");
    assertThat(help.out()).contains("--selector=SELECTOR", "--by=TAGKEY", "maintenance-mode=true");
    Cli.Result bad = Cli.run("fleet", "summary", "--by", "not a key");
    assertThat(bad.exitCode()).isEqualTo(2);
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new AssertionError(text, e);
    }
  }
}
