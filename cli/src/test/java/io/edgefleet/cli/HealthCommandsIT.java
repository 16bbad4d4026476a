package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.protocol.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code fleet summary} and {@code events} against a real controller with devices enrolled through
 * the real enrollment endpoint: tables by default, JSON with {@code -o json}, a stable code for a
 * bad selector, and {@code --follow} printing what happens while it runs.
 */
class HealthCommandsIT {
  @TempDir static Path dir;
  private static Controller controller;
  private static final List<String> siteA = new ArrayList<>();
  private static String siteB;

  @BeforeAll
  static void startController() throws Exception {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller"))
                .withListen("127.0.0.1", 0)
                .withHeartbeat(Duration.ofSeconds(1)),
            Clock.systemUTC());
    for (int i = 0; i < 2; i++) {
      siteA.add(enroll("a-" + i, "site=a"));
    }
    siteB = enroll("b-0", "site=b");
  }

  @AfterAll
  static void stopController() {
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void fleetSummarySaysWhatTheCountsMeanAndGroupsByATag() throws Exception {
    Cli.Result table = run("fleet", "summary", "--selector", "site in (a,b)");
    assertThat(table.exitCode()).as(table.err()).isZero();
    assertThat(table.out())
        .startsWith(
            "Devices matching site in (a,b): 0 % of 3 devices are operational (0 online, 0"
                + " degraded); 0 in maintenance; 0 in error; 0 offline; 3 never seen.")
        .containsPattern("never seen +3");

    assertThat(run("devices", "tag", siteB, "maintenance-mode=true").exitCode()).isZero();
    Cli.Result bySite = run("fleet", "summary", "--by", "site", "-o", "json");
    assertThat(bySite.exitCode()).as(bySite.err()).isZero();
    JsonNode s = Json.mapper().readTree(bySite.out());
    assertThat(s.path("by").asText()).isEqualTo("site");
    assertThat(s.path("neverSeen").asInt()).isEqualTo(3);
    assertThat(s.path("maintenance").asInt()).isEqualTo(1);
    assertThat(s.path("groups")).hasSize(2);
    assertThat(s.path("groups").get(0).path("value").asText()).isEqualTo("a");
    assertThat(s.path("groups").get(0).path("enrolled").asInt()).isEqualTo(2);
    assertThat(s.path("groups").get(1).path("value").asText()).isEqualTo("b");
    assertThat(s.path("groups").get(1).path("maintenance").asInt()).isEqualTo(1);
    assertThat(s.path("groups").get(1).path("sentence").asText())
        .isEqualTo(
            "0 % of 1 device is operational (0 online, 0 degraded); 1 in maintenance; 0 in error;"
                + " 0 offline; 0 never seen");

    Cli.Result rows = run("fleet", "summary", "--by", "site");
    assertThat(rows.out()).containsPattern("(?m)^a +2 +0 % +0 +0 +0 +0 +2 +0 +0$");

    Cli.Result bad = run("fleet", "summary", "--selector", "site in (");
    assertThat(bad.exitCode()).isEqualTo(1);
    assertThat(bad.err()).contains("VALIDATION_FAILED").contains("selector");
  }

  @Test
  void eventsShowWhatHappenedToADeviceAndFollowPrintsNewEventsAsTheyCome() throws Exception {
    String device = siteA.getFirst();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(run("events", "--device", device).out())
                    .startsWith("TIME")
                    .containsPattern(device + " +controller +device.enroll"));

    Cli.Result json = run("events", "--device", device, "-o", "json");
    JsonNode page = Json.mapper().readTree(json.out());
    assertThat(page.path("next").asText()).isNotBlank();
    assertThat(page.path("items").get(0).path("source").asText()).isEqualTo("controller");

    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Cli.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    AtomicInteger exit = new AtomicInteger(-1);
    Thread follower =
        new Thread(
            () ->
                exit.set(
                    cli.execute(
                        args(
                            "events",
                            "--follow",
                            "--interval",
                            "1s",
                            "--selector",
                            "site=a",
                            "--since",
                            "1s"))));
    follower.start();
    try {
      await().atMost(Duration.ofSeconds(20)).until(() -> out.toString().startsWith("TIME"));
      assertThat(run("devices", "tag", siteA.get(1), "shelf=3").exitCode()).isZero();
      assertThat(run("devices", "tag", siteB, "shelf=4").exitCode()).isZero();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> out.toString().contains(siteA.get(1) + "  controller  device.tags"));
    } finally {
      follower.interrupt();
      follower.join(Duration.ofSeconds(20));
    }
    assertThat(follower.isAlive()).isFalse();
    assertThat(exit.get()).as(err.toString()).isZero();
    assertThat(out.toString()).doesNotContain(siteB).containsOnlyOnce("\"shelf\":\"3\"");
  }

  // ------------------------------------------------------------------ helpers

  private static String enroll(String name, String tag) {
    Cli.Result token = run("onboarding", "create", "--tag", tag, "-o", "json");
    assertThat(token.exitCode()).as(token.err()).isZero();
    String secret = readTree(token.out()).path("token").asText();
    return new EnrollingDevice(name, "SN-" + name)
        .enroll(controller.url(), controller.pki().caFingerprint(), secret)
        .response()
        .deviceId();
  }

  @Test
  void devicesListSortsEitherWayAndReadsEveryPageOfASortedListing() {
    Cli.Result desc = run("devices", "list", "--sort", "-name", "--page-size", "1", "-o", "json");
    assertThat(desc.exitCode()).as(desc.err()).isZero();
    assertThat(names(desc.out())).containsExactly("b-0", "a-1", "a-0");
    Cli.Result asc = run("devices", "list", "--sort", "name", "--page-size", "2", "-o", "json");
    assertThat(names(asc.out())).containsExactly("a-0", "a-1", "b-0");

    Cli.Result bad = run("devices", "list", "--sort", "colour");
    assertThat(bad.exitCode()).isNotZero();
    assertThat(bad.err()).contains("VALIDATION_FAILED").contains("colour");
  }

  @Test
  void auditShowsWhoChangedWhatFilteredAndPagesOlderEntries() {
    // Preregistrations concern no device yet, so they stay out of the events other tests follow.
    List<String> serials = List.of("AUDIT-SN-1", "AUDIT-SN-2");
    for (String serial : serials) {
      assertThat(run("devices", "preregister", "--serial", serial, "--tag", "site=c").exitCode())
          .isZero();
    }
    Cli.Result table =
        run("audit", "--action", "preregistration.", "--search", "audit-sn", "--limit", "1");
    assertThat(table.exitCode()).as(table.err()).isZero();
    assertThat(table.out()).startsWith("TIME").contains("preregistration.create");
    assertThat(table.out()).containsPattern("\\(older entries: add --before [0-9]+\\.\\S+\\)");
    String before =
        table
            .out()
            .lines()
            .filter(l -> l.startsWith("(older entries"))
            .findFirst()
            .orElseThrow()
            .replaceAll(".*--before (\\S+)\\)$", "$1");

    Cli.Result older =
        run(
            "audit",
            "--action",
            "preregistration.",
            "-q",
            "AUDIT-sn",
            "--limit",
            "1",
            "--before",
            before,
            "-o",
            "json");
    assertThat(older.exitCode()).as(older.err()).isZero();
    JsonNode page = readTree(older.out());
    assertThat(page.path("items")).hasSize(1);
    String olderTarget = page.path("items").get(0).path("target").asText();
    assertThat(olderTarget).isIn(serials);
    // The older page holds the other preregistration, not the one already shown.
    assertThat(table.out()).doesNotContain(olderTarget);

    Cli.Result none = run("audit", "--actor", "nobody-at-all");
    assertThat(none.exitCode()).isZero();
    assertThat(none.out()).isEqualTo("No audit entries match.\n");

    Cli.Result bad = run("audit", "--before", "yesterday");
    assertThat(bad.exitCode()).isNotZero();
    assertThat(bad.err()).contains("VALIDATION_FAILED").contains("next");
  }

  private static List<String> names(String listing) {
    List<String> names = new ArrayList<>();
    readTree(listing).path("items").forEach(d -> names.add(d.path("name").asText()));
    return names;
  }

  private static JsonNode readTree(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (Exception e) {
      throw new AssertionError(text, e);
    }
  }

  private static String[] args(String... args) {
    return Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
        .toArray(String[]::new);
  }

  private static Cli.Result run(String... args) {
    return Cli.run(args(args));
  }
}
