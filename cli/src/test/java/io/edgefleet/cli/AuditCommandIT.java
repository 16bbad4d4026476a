package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code audit verify} and {@code audit export} against a real controller: an intact log verifies,
 * the export is a linked chain of JSON lines, and a row edited in the database file is named.
 */
class AuditCommandIT {
  @TempDir Path dir;
  private Controller controller;

  @BeforeEach
  void startController() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller")).withListen("127.0.0.1", 0),
            Clock.systemUTC());
  }

  @AfterEach
  void stopController() {
    controller.close();
  }

  @Test
  void verifyExportAndATamperedRow() throws Exception {
    for (String name : List.of("a", "b", "c")) {
      Cli.Result created = run("secrets", "create", name, "--from-literal", "k=v");
      assertThat(created.exitCode()).as(created.err()).isZero();
    }

    Cli.Result ok = run("audit", "verify");
    assertThat(ok.exitCode()).as(ok.err()).isZero();
    assertThat(ok.out()).startsWith("OK: 3 entries and 1 checkpoints checked (seq 1 to 3)");
    JsonNode json = Json.mapper().readTree(run("audit", "verify", "-o", "json").out());
    assertThat(json.path("ok").asBoolean()).isTrue();
    assertThat(json.path("entries").asLong()).isEqualTo(3);

    Cli.Result export = run("audit", "export", "--since", "1h");
    assertThat(export.exitCode()).as(export.err()).isZero();
    List<JsonNode> lines = new ArrayList<>();
    for (String line : export.out().split("\n")) {
      lines.add(Json.mapper().readTree(line));
    }
    assertThat(lines).extracting(l -> l.path("seq").asLong()).containsExactly(1L, 2L, 3L);
    assertThat(lines.get(0).path("prev").asText()).isEqualTo("0".repeat(64));
    assertThat(lines.get(1).path("prev").asText()).isEqualTo(lines.get(0).path("hash").asText());
    assertThat(lines.get(2).path("prev").asText()).isEqualTo(lines.get(1).path("hash").asText());
    assertThat(lines.get(1).path("action").asText()).isEqualTo("secret.create");
    assertThat(run("audit", "export", "--since", "2999-01-01T00:00:00Z").out()).isEmpty();
    Cli.Result badSince = run("audit", "export", "--since", "yesterday");
    assertThat(badSince.exitCode()).isEqualTo(2);
    assertThat(badSince.err()).contains("neither a duration such as 24h nor a time");

    String id = lines.get(1).path("id").asText();
    try (Connection db =
            DriverManager.getConnection(
                "jdbc:sqlite:" + dir.resolve("controller").resolve("edgefleet.db"));
        Statement s = db.createStatement()) {
      s.executeUpdate("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2");
    }

    Cli.Result tampered = run("audit", "verify");
    assertThat(tampered.exitCode()).isEqualTo(1);
    assertThat(tampered.out())
        .startsWith("PROBLEM (EDITED): entry 2 (" + id + ") was edited: its hash does not match\n");
    assertThat(run("audit", "verify", "--from", "3").exitCode()).isZero();
    assertThat(run("audit", "verify", "--from", "0").exitCode()).isEqualTo(2);
  }

  private Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }
}
