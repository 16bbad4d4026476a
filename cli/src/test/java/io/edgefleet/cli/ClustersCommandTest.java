package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Registration, ranges, rendering of clusters, and input refused before any call. */
class ClustersCommandTest {
  static final Instant NOW = Instant.parse("2026-12-06T12:00:00Z");

  static final String CLUSTER =
      """
      {"name":"store-1","state":"DEGRADED","selector":"clusterpool=sjc",
       "servers":{"min":3,"max":3},"agents":{"min":0,"max":2},
       "kubernetesVersion":"v1.20.2+k3s1","profile":"base@2","labels":{"site":"sjc"},
       "graceSeconds":300,"tokenVersion":2,"applier":"d-1",
       "reasons":["etcd quorum is at risk: 2 of 3 voting servers are healthy"],
       "kubernetes":{"wanted":"v1.20.2+k3s1","running":["v1.20.2+k3s1"]},
       "etcd":{"voters":3,"quorum":2,"healthyVoters":2,"quorumAtRisk":true},
       "members":[
        {"deviceId":"d-1","nodeName":"till-1","role":"server","init":true,"phase":"RUNNING",
         "ready":true,"kubernetesVersion":"v1.20.2+k3s1","etcdMember":true,"address":"10.0.0.1",
         "lastReportSeconds":30},
        {"deviceId":"d-2","nodeName":"till-2","role":"server","phase":"RUNNING","ready":true,
         "kubernetesVersion":"v1.20.2+k3s1","etcdMember":true,"address":"10.0.0.2",
         "lastReportSeconds":20},
        {"deviceId":"d-3","nodeName":"till-3","role":"server","phase":"RUNNING","ready":false,
         "kubernetesVersion":"v1.20.2+k3s1","etcdMember":true,"address":"10.0.0.3",
         "lastReportSeconds":600},
        {"deviceId":"d-4","nodeName":"till-4","role":"agent","phase":"STARTING",
         "kubernetesVersion":"v1.20.2+k3s1","address":"10.0.0.4","removing":true}]}
      """;

  @Test
  void registersItsVerbs() {
    CommandLine clusters = Cli.commandLine().getSubcommands().get("clusters");
    assertThat(clusters.getSubcommands())
        .containsOnlyKeys(
            "create", "list", "get", "update", "deactivate", "delete", "rotate-token");
    assertThat(Cli.commandLine().getSubcommands().get("artifacts").getSubcommands())
        .containsOnlyKeys("push", "list", "delete", "mirror");
  }

  @Test
  void aProjectColumnIsShownWhenAClusterBelongsToAProject() throws Exception {
    JsonNode plain =
        Json.mapper().readTree("[{\"name\":\"a\",\"state\":\"READY\",\"servers\":1,\"agents\":0}]");
    assertThat(ClustersCommand.table(plain)).doesNotContain("PROJECT");
    JsonNode scoped =
        Json.mapper()
            .readTree(
                "[{\"name\":\"a\",\"state\":\"READY\",\"servers\":1,\"agents\":0},"
                    + "{\"name\":\"b\",\"state\":\"READY\",\"servers\":1,\"agents\":0,"
                    + "\"project\":\"stores-eu\"}]");
    String table = ClustersCommand.table(scoped);
    assertThat(table.lines().findFirst().orElseThrow()).startsWith("NAME").contains("PROJECT");
    assertThat(table).containsPattern("b +stores-eu +READY");
    JsonNode one =
        Json.mapper().readTree(CLUSTER.replace("{\"name\"", "{\"project\":\"stores-eu\",\"name\""));
    assertThat(ClustersCommand.details(one, NOW)).containsPattern("Project: +stores-eu");
    assertThat(
            new CommandLine(new ClustersCommand.Create()).getCommandSpec().findOption("--project"))
        .isNotNull();
  }

  @Test
  void rangesAreMinDotDotMaxOrOneNumber() {
    assertThat(ClustersCommand.Range.parse("3..5", "--servers"))
        .isEqualTo(new ClustersCommand.Range(3, 5));
    assertThat(ClustersCommand.Range.parse("1", "--servers"))
        .isEqualTo(new ClustersCommand.Range(1, 1));
    assertThatThrownBy(() -> ClustersCommand.Range.parse("5..3", "--servers"))
        .hasMessageContaining("below the minimum");
    assertThatThrownBy(() -> ClustersCommand.Range.parse("three", "--agents"))
        .hasMessageContaining("--agents takes MIN..MAX");
  }

  @Test
  void aClusterShowsTheProfileRevisionItShouldRunAndTheOneItRuns() throws Exception {
    JsonNode named = Json.mapper().readTree(CLUSTER);
    assertThat(ClustersCommand.details(named, NOW)).containsPattern("Profile: +base@2");
    JsonNode following =
        Json.mapper()
            .readTree(
                CLUSTER.replace(
                    "\"profile\":\"base@2\",",
                    "\"profile\":null,\"profileVersions\":{\"wanted\":\"edge@3\","
                        + "\"running\":[\"edge@2\"]},"));
    assertThat(ClustersCommand.details(following, NOW))
        .containsPattern("Profile: +edge@3 \\(running: edge@2\\)");
  }

  @Test
  void aClusterShowsItsShapeReasonsEtcdAndMembers() throws Exception {
    JsonNode c = Json.mapper().readTree(CLUSTER);
    String out = ClustersCommand.details(c, NOW);
    assertThat(out)
        .contains("store-1")
        .contains("DEGRADED")
        .contains("3 (3..3)")
        .contains("0 (0..2)")
        .contains("till-1 (d-1)")
        .contains("2 of 3 voters healthy, quorum 2 (AT RISK)")
        .contains("- etcd quorum is at risk")
        .contains("site=sjc");
    assertThat(out.lines().filter(l -> l.contains("till-1")).toList().getLast())
        .contains("server (init)")
        .contains("RUNNING")
        .contains("member")
        .contains("30s ago");
    assertThat(out.lines().filter(l -> l.startsWith("till-4")).findFirst().orElseThrow())
        .contains("agent, leaving");
    JsonNode summary =
        Json.mapper()
            .readTree(
                """
                {"name":"store-1","selector":"clusterpool=sjc","state":"DEGRADED","servers":3,
                 "agents":0,"serversWanted":"3..3","agentsWanted":"0..2",
                 "kubernetesVersion":"v1.20.2+k3s1","profile":"base@2",
                 "reason":"etcd quorum is at risk"}
                """);
    String table = ClustersCommand.table(Json.mapper().createArrayNode().add(summary));
    assertThat(table.lines().toList()).hasSize(2);
    assertThat(table.lines().toList().get(0)).startsWith("NAME").contains("STATE", "REASON");
    assertThat(table.lines().toList().get(1))
        .contains("store-1", "DEGRADED", "3 (3..3)", "0 (0..2)", "v1.20.2+k3s1", "base@2")
        .contains("etcd quorum is at risk");
  }

  @Test
  void badInputIsRefusedBeforeAnyCall() {
    Cli.Result noSelector = Cli.run("clusters", "create", "c1", "--servers", "3..3");
    assertThat(noSelector.exitCode()).isEqualTo(2);
    assertThat(noSelector.err()).contains("--select");
    Cli.Result badRange =
        Cli.run("clusters", "create", "c1", "--select", "a=b", "--servers", "3-5");
    assertThat(badRange.exitCode()).isEqualTo(2);
    assertThat(badRange.err()).contains("--servers takes MIN..MAX");
    Cli.Result badGrace =
        Cli.run("clusters", "create", "c1", "--select", "a=b", "--servers", "3", "--grace", "soon");
    assertThat(badGrace.exitCode()).isEqualTo(2);
    assertThat(badGrace.err()).contains("positive duration");
    Cli.Result nothing = Cli.run("clusters", "update", "c1", "--token", "t");
    assertThat(nothing.exitCode()).isEqualTo(2);
    assertThat(nothing.err()).contains("nothing to change");
  }
}
