package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Rendering of a profile: its versions, where they run, and each cluster following it. */
class ProfilesCommandTest {
  static final Instant NOW = Instant.parse("2026-12-06T12:00:00Z");

  @Test
  void aProfileShowsWhichClusterRunsWhichVersion() throws Exception {
    JsonNode p =
        Json.mapper()
            .readTree(
                """
                {"name":"edge","selector":"site=sjc","latestVersion":2,
                 "versions":[
                  {"version":2,"revision":"edge@2","layers":2,"running":["store-1"],
                   "createdBy":"admin","createdAt":"2026-12-06T11:00:00Z"},
                  {"version":1,"revision":"edge@1","layers":2,"running":["store-2","store-3"],
                   "createdBy":"admin","createdAt":"2026-12-06T10:00:00Z"}],
                 "clusters":["store-1","store-2","store-3"],
                 "clusterVersions":[
                  {"cluster":"store-1","follows":"edge","wanted":"edge@2","running":"edge@2"},
                  {"cluster":"store-2","follows":"edge","wanted":"edge@2","running":"edge@1"},
                  {"cluster":"store-3","follows":"edge@1","wanted":"edge@1","running":"edge@1"}],
                 "createdAt":"2026-12-06T09:00:00Z"}
                """);
    String out = ProfilesCommand.details(p, NOW);
    assertThat(out).contains("store-1, store-2, store-3");
    assertThat(out.lines().filter(l -> l.startsWith("2 ")).findFirst().orElseThrow())
        .contains("edge@2")
        .contains("1 cluster(s)");
    assertThat(out.lines().filter(l -> l.startsWith("1 ")).findFirst().orElseThrow())
        .contains("2 cluster(s)");
    assertThat(out.lines().filter(l -> l.startsWith("store-2")).findFirst().orElseThrow())
        .containsPattern("store-2 +edge +edge@2 +edge@1");
    assertThat(out.lines().filter(l -> l.startsWith("store-3")).findFirst().orElseThrow())
        .containsPattern("store-3 +edge@1 +edge@1 +edge@1");
  }
}
