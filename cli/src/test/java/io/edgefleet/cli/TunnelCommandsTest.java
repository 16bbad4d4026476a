package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class TunnelCommandsTest {
  @Test
  void portForwardSpecsAreReadOrRefusedClearly() {
    PortForwardCommand c = parse("dev-1", "8080:80");
    assertThat(c.local).isEqualTo(8080);
    assertThat(c.host).isEqualTo("127.0.0.1");
    assertThat(c.port).isEqualTo(80);
    PortForwardCommand other = parse("dev-1", "8443:10.0.0.5:443");
    assertThat(other.host).isEqualTo("10.0.0.5");
    assertThat(other.port).isEqualTo(443);
    for (String bad : new String[] {"80", "8080:", "a:b", "8080:host:99999"}) {
      PortForwardCommand p = new PortForwardCommand();
      new CommandLine(p).parseArgs("dev-1", bad);
      try {
        p.validate();
        throw new AssertionError(bad + " was taken");
      } catch (CommandLine.ParameterException e) {
        assertThat(e.getMessage()).containsAnyOf("expected LOCAL:PORT", "ports are 1 to 65535");
      }
    }
  }

  private static PortForwardCommand parse(String... args) {
    PortForwardCommand p = new PortForwardCommand();
    new CommandLine(p).parseArgs(args);
    p.validate();
    return p;
  }

  @Test
  void theSessionsTableSaysHowEachEnded() throws Exception {
    JsonNode items =
        Json.mapper()
            .readTree(
                "[{\"id\":\"ses-1\",\"device\":\"dev-1\",\"kind\":\"tcp\",\"actor\":\"olga\","
                    + "\"detail\":\"127.0.0.1:80\",\"startedAt\":\"2026-01-01T00:00:00Z\","
                    + "\"endedAt\":\"2026-01-01T00:01:05Z\",\"bytesIn\":2048,\"bytesOut\":10,"
                    + "\"endReason\":\"link lost: the connection broke\"},"
                    + "{\"id\":\"ses-2\",\"device\":\"dev-1\",\"kind\":\"kube\",\"actor\":\"olga\","
                    + "\"detail\":\"GET /api/v1/pods\",\"startedAt\":\"2026-01-01T00:02:00Z\","
                    + "\"bytesIn\":0,\"bytesOut\":0}]");
    String table = SessionsCommand.List.table(items, Instant.parse("2026-01-01T00:03:00Z"));
    assertThat(table).contains("ses-1").contains("1m5s").contains("2.0 KiB").contains("link lost");
    assertThat(table).contains("ses-2").contains("(running)").contains("GET /api/v1/pods");
  }
}
