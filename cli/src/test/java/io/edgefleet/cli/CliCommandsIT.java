package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.EnrollmentResponse;
import io.edgefleet.protocol.EnrollmentResponse.Status;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands against a real controller started in this JVM: its HTTPS listener on loopback, its
 * own CA, SQLite in a temporary data directory, and the admin token and {@code cli-config.json} it
 * writes at first start. Devices enroll through the controller's real enrollment endpoint. The
 * controller is shared by the class, so each test works with its own tokens, devices and serials.
 */
class CliCommandsIT {
  private static final Pattern TOKEN = Pattern.compile("Token: +(efo_\\S+) +\\(shown only now\\)");
  private static final AtomicInteger NEXT = new AtomicInteger();

  @TempDir static Path dir;
  private static Controller controller;
  private static String url;
  private static String adminToken;
  private static String fingerprint;

  @BeforeAll
  static void startController() {
    controller =
        Controller.start(
            ControllerConfig.defaults(dir.resolve("controller"))
                .withListen("127.0.0.1", 0)
                .withHeartbeat(Duration.ofSeconds(1))
                .withPresenceFlush(Duration.ofMillis(200)),
            Clock.systemUTC());
    url = controller.url();
    adminToken = controller.adminToken().orElseThrow();
    fingerprint = controller.pki().caFingerprint();
  }

  @AfterAll
  static void stopController() {
    if (controller != null) {
      controller.close();
    }
  }

  @Test
  void theControllerWroteTheConfigFileTheCommandsRead() {
    JsonNode config = json(read(controller.cliConfig()));

    assertThat(config.path("server").asText()).isEqualTo(url).startsWith("https://127.0.0.1:");
    assertThat(config.path("token").asText()).isEqualTo(adminToken);
    assertThat(config.path("caFingerprint").asText()).isEqualTo(fingerprint);
  }

  // --- onboarding ---------------------------------------------------------------------------

  @Test
  void onboardingCreateShowsTheTokenOnceAndTheControllerKeepsItsSettings() {
    String name = unique("stores");

    Cli.Result r =
        run(
            "onboarding",
            "create",
            "--name",
            name,
            "--tag",
            "site=store-17",
            "--tag",
            "role=pos",
            "--uses",
            "5",
            "--expires",
            "7d",
            "--require-approval");

    assertThat(r.err()).isEmpty();
    assertThat(r.exitCode()).isZero();
    String token = shownToken(r.out());
    assertThat(r.out())
        .containsPattern("Name: +" + name)
        .containsPattern("Tags: +role=pos,site=store-17")
        .containsPattern("Uses: +0/5")
        .containsPattern("Expires: +in 7d")
        .containsPattern("Approval: +required")
        .endsWith(
            "write a bootstrap file: edgefleet onboarding bootstrap --token "
                + token
                + System.lineSeparator());
    OnboardingTokens.View stored = controller.onboarding().checkUsable(token);
    assertThat(stored.name()).isEqualTo(name);
    assertThat(stored.tags()).isEqualTo(Map.of("site", "store-17", "role", "pos"));
    assertThat(stored.maxUses()).isEqualTo(5);
    assertThat(stored.requireApproval()).isTrue();
    assertThat(stored.expiresAt())
        .isBetween(
            Instant.now().plus(Duration.ofDays(7)).minusSeconds(60),
            Instant.now().plus(Duration.ofDays(7)));

    Cli.Result list = run("onboarding", "list");
    Cli.Result listJson = run("onboarding", "list", "-o", "json");

    assertThat(row(list.out(), stored.id()))
        .matches(
            Pattern.quote(stored.id())
                + " +"
                + name
                + " +role=pos,site=store-17 +0/5 +in 7d +required +active");
    assertThat(list.out()).doesNotContain(token);
    assertThat(listJson.out()).doesNotContain(token);
  }

  @Test
  void onboardingCreateAsJsonPrintsOnlyTheApiAnswerOnStdout() {
    Cli.Result r = run("onboarding", "create", "--tag", "site=store-3", "-o", "json");

    assertThat(r.exitCode()).isZero();
    JsonNode created = json(r.out());
    String token = created.path("token").asText();
    assertThat(token).startsWith("efo_");
    assertThat(created.path("tags")).isEqualTo(json("{\"site\":\"store-3\"}"));
    assertThat(created.path("requireApproval").asBoolean()).isFalse();
    assertThat(created.path("uses").asInt()).isZero();
    assertThat(controller.onboarding().checkUsable(token).id())
        .isEqualTo(created.path("id").asText());
    assertThat(r.err())
        .isEqualTo(
            DEFAULT_LIMITS
                + System.lineSeparator()
                + "write a bootstrap file: edgefleet onboarding bootstrap --token "
                + token
                + System.lineSeparator());
  }

  /** What `onboarding create` says of a token made without limits of its own. */
  static final String DEFAULT_LIMITS =
      "it expires in 7d (--expires to change, 'never' for none); any number of devices (--uses N"
          + " to cap), at most 60 a minute, may enroll with it; they are approved automatically"
          + " (--require-approval to review each)";

  @Test
  void onboardingListShowsUsedUpRevokedAndExpiredTokens() {
    JsonNode usedUp = createToken("--uses", "1");
    JsonNode revoked = createToken();
    JsonNode expiring = createToken("--expires", "1s");
    new EnrollingDevice(unique("till"), unique("SN"))
        .enroll(url, fingerprint, usedUp.path("token").asText())
        .response();
    assertThat(run("onboarding", "revoke", revoked.path("id").asText()).exitCode()).isZero();

    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              String out = run("onboarding", "list").out();
              assertThat(row(out, expiring.path("id").asText()))
                  .matches(".* +\\d+s ago +automatic +expired");
              assertThat(row(out, usedUp.path("id").asText()))
                  .matches(".* +1/1 +in 7d +automatic +used up");
              assertThat(row(out, revoked.path("id").asText()))
                  .matches(".* +0 +in 7d +automatic +revoked");
            });
  }

  @Test
  void onboardingRevokeStopsTheTokenFromEnrollingDevices() {
    JsonNode created = createToken();
    String id = created.path("id").asText();

    Cli.Result r = run("onboarding", "revoke", id);

    assertThat(r.err()).isEmpty();
    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).isEqualTo("revoked onboarding token " + id + System.lineSeparator());
    EnrollingDevice.Answer refused =
        new EnrollingDevice(unique("pos"), unique("SN"))
            .enroll(url, fingerprint, created.path("token").asText());
    assertThat(refused.error().errorCode()).isEqualTo(ErrorCode.ONBOARDING_TOKEN_REVOKED);
  }

  @Test
  void onboardingRevokeOfAnUnknownTokenIsNotFound() {
    Cli.Result r = run("onboarding", "revoke", "obt-nope");

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err()).startsWith("error: ").contains("(NOT_FOUND)").contains("obt-nope");
  }

  @Test
  void onboardingBootstrapWritesAPrivateFileThatEnrollsADevice() throws IOException {
    String token = createToken("--tag", "site=store-5").path("token").asText();
    // An existing world-readable file must not keep its mode when the secret replaces it.
    Path file = dir.resolve(unique("bootstrap") + ".json");
    Files.writeString(file, "old");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

    Cli.Result r =
        Cli.run(
            "onboarding",
            "bootstrap",
            "--token",
            token,
            "--out",
            file.toString(),
            "--api-token",
            adminToken,
            "--server",
            url,
            "--ca-fingerprint",
            fingerprint);

    assertThat(r.err()).isEmpty();
    assertThat(r.exitCode()).isZero();
    assertThat(r.out())
        .isEqualTo(
            "wrote "
                + file
                + "; start the agent: edgefleet agent --bootstrap "
                + file
                + System.lineSeparator());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
    Bootstrap bootstrap = Json.mapper().readValue(file.toFile(), Bootstrap.class);
    assertThat(bootstrap).isEqualTo(Bootstrap.of(url, fingerprint, token));

    EnrollmentResponse enrolled =
        new EnrollingDevice(unique("pos"), unique("SN"))
            .enroll(bootstrap.baseUrl(), bootstrap.caFingerprint(), bootstrap.token())
            .response();
    assertThat(enrolled.status()).isEqualTo(Status.APPROVED);
    assertThat(controller.devices().get(enrolled.deviceId()).tags())
        .isEqualTo(Map.of("site", "store-5"));
  }

  @Test
  void onboardingCreateWithBootstrapOutWritesTheShownToken() {
    Path file = dir.resolve(unique("created") + ".json");

    Cli.Result r = run("onboarding", "create", "-o", "json", "--bootstrap-out", file.toString());

    assertThat(r.exitCode()).isZero();
    String token = json(r.out()).path("token").asText();
    assertThat(Json.mapper().convertValue(json(read(file)), Bootstrap.class))
        .isEqualTo(Bootstrap.of(url, fingerprint, token));
    assertThat(mode(file)).isEqualTo("rw-------");
    assertThat(r.err())
        .isEqualTo(
            DEFAULT_LIMITS
                + System.lineSeparator()
                + "wrote "
                + file
                + "; start the agent: edgefleet agent --bootstrap "
                + file
                + System.lineSeparator());
  }

  @Test
  void onboardingBootstrapForAnUnknownTokenWritesNothing() {
    Path file = dir.resolve(unique("unknown") + ".json");

    Cli.Result r = run("onboarding", "bootstrap", "--token", "efo_nope", "--out", file.toString());

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err()).startsWith("error: ").contains("(ONBOARDING_TOKEN_INVALID)");
    assertThat(file).doesNotExist();
  }

  // --- devices ------------------------------------------------------------------------------

  @Test
  void devicesListAndGetShowAnEnrolledDevice() {
    EnrollingDevice device = new EnrollingDevice(unique("pos"), unique("SN"));
    String id = enroll(device, "--tag", "site=store-17", "--tag", "role=pos").deviceId();

    Cli.Result list = run("devices", "list");
    Cli.Result get = run("devices", "get", id);

    assertThat(list.exitCode()).isZero();
    assertThat(list.out().lines().findFirst())
        .hasValueSatisfying(
            h -> assertThat(h).matches("ID +NAME +STATUS +TRUST +REASON +LAST SEEN +TAGS +AGENT"));
    assertThat(row(list.out(), id))
        .matches(
            Pattern.quote(id)
                + " +"
                + device.hostname()
                + " +NEVER_SEEN +- +enrolled .*, has not connected since +- +role=pos,site=store-17"
                + " +0\\.1\\.0");
    assertThat(get.exitCode()).isZero();
    assertThat(get.out())
        .containsPattern("ID: +" + id)
        .containsPattern("Serial: +" + device.serial())
        .containsPattern("Status: +NEVER_SEEN")
        .containsPattern("Identity: +software")
        .containsPattern("Trust: +UNVERIFIED")
        .containsPattern("Hostname: +" + device.hostname())
        .containsPattern("OS: +debian 12")
        .containsPattern("Architecture: +amd64")
        .containsPattern("Memory: +7\\.5 GiB")
        .containsPattern("MACs: +aa:bb:cc:dd:ee:ff")
        .containsPattern("K3s: +yes")
        .containsPattern("Kubelet: +no")
        .containsPattern("Enrolled: +\\S+Z \\(");
  }

  @Test
  void devicesListAsJsonCarriesTheTagsAndFiltersByStatus() {
    String active =
        enroll(new EnrollingDevice(unique("pos"), unique("SN")), "--tag", "site=s-1").deviceId();
    String pending =
        enroll(new EnrollingDevice(unique("pos"), unique("SN")), "--require-approval").deviceId();

    JsonNode all = json(run("devices", "list", "-o", "json").out()).path("items");
    JsonNode onlyPending =
        json(run("devices", "list", "--status", "pending", "-o", "json").out()).path("items");

    assertThat(all.isArray()).isTrue();
    assertThat(item(all, "id", active).path("tags")).isEqualTo(json("{\"site\":\"s-1\"}"));
    assertThat(item(all, "id", active).path("status").asText()).isEqualTo("NEVER_SEEN");
    assertThat(item(all, "id", pending).path("status").asText()).isEqualTo("PENDING");
    assertThat(onlyPending.findValuesAsText("id")).contains(pending).doesNotContain(active);
    assertThat(onlyPending.findValuesAsText("status")).containsOnly("PENDING");
  }

  @Test
  void devicesOnHostsOfTheSameNameAreNumberedListedBySelectorPageByPageAndRenamed() {
    String host = unique("vm");
    String batch = unique("batch");
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(
          enroll(new EnrollingDevice(host, unique("SN")), "--tag", "batch=" + batch).deviceId());
    }

    Cli.Result list =
        run(
            "devices",
            "list",
            "--selector",
            "batch=" + batch,
            "--status",
            "never_seen,pending",
            "--page-size",
            "2",
            "-o",
            "json");

    assertThat(list.exitCode()).isZero();
    JsonNode items = json(list.out()).path("items");
    assertThat(items.findValuesAsText("id")).containsExactlyElementsOf(ids);
    assertThat(items.findValuesAsText("name")).containsExactly(host, host + "-2", host + "-3");
    assertThat(
            json(run("devices", "list", "--selector", "*", "-o", "json").out())
                .path("items")
                .findValuesAsText("id"))
        .containsAll(ids);
    assertThat(
            json(run("devices", "list", "--selector", "", "-o", "json").out())
                .path("items")
                .findValuesAsText("id"))
        .containsAll(ids);
    assertThat(
            run("devices", "list", "--selector", "batch=" + batch, "--status", "online")
                .out()
                .lines())
        .hasSize(1);

    Cli.Result rename = run("devices", "rename", ids.get(1), unique("till"));
    assertThat(rename.exitCode()).isZero();
    assertThat(controller.devices().get(ids.get(1)).name()).startsWith("till");
    Cli.Result taken = run("devices", "rename", ids.get(2), host);
    assertThat(taken.exitCode()).isEqualTo(1);
    assertThat(taken.err()).contains("(DEVICE_NAME_TAKEN)").contains(ids.get(0));
    Cli.Result invalid = run("devices", "rename", ids.get(2), "no spaces");
    assertThat(invalid.exitCode()).isEqualTo(2);
    assertThat(invalid.err()).contains("letters, digits");
  }

  @Test
  void everyCommandThatSelectsDevicesTakesStarAndTheEmptySelectorForAll() {
    for (String all : new String[] {"*", ""}) {
      Cli.Result summary = run("fleet", "summary", "--selector", all, "-o", "json");
      assertThat(summary.exitCode()).as("fleet summary --selector '%s'", all).isZero();
      Cli.Result repo =
          run(
              "repos",
              "add",
              unique("all"),
              "--url",
              "file:///nowhere",
              "--target",
              all,
              "--force");
      assertThat(repo.exitCode()).as("repos add --target '%s': %s", all, repo.err()).isZero();
    }
    Cli.Result bad = run("fleet", "summary", "--selector", "site in (");
    assertThat(bad.exitCode()).isEqualTo(1);
    assertThat(bad.err()).contains("(VALIDATION_FAILED)").contains("'*' or '' for every device");
  }

  @Test
  void devicesTagAndUntagChangeTheStoredTags() {
    String id =
        enroll(new EnrollingDevice(unique("pos"), unique("SN")), "--tag", "site=store-17")
            .deviceId();

    Cli.Result tag = run("devices", "tag", id, "site=store-18", "role=");

    assertThat(tag.err()).isEmpty();
    assertThat(tag.exitCode()).isZero();
    assertThat(row(tag.out(), id)).contains(" role=,site=store-18 ");
    assertThat(controller.devices().get(id).tags())
        .isEqualTo(Map.of("site", "store-18", "role", ""));

    Cli.Result untag = run("devices", "untag", id, "role", "role");

    assertThat(untag.exitCode()).isZero();
    assertThat(controller.devices().get(id).tags()).isEqualTo(Map.of("site", "store-18"));
  }

  @Test
  void badTagSyntaxIsExitTwoAndChangesNothing() {
    String id =
        enroll(new EnrollingDevice(unique("pos"), unique("SN")), "--tag", "site=store-17")
            .deviceId();
    int tokens = controller.onboarding().list().size();

    Cli.Result tag = run("devices", "tag", id, "site=store 18");
    Cli.Result create = run("onboarding", "create", "--tag", "site");

    assertThat(tag.exitCode()).isEqualTo(2);
    assertThat(tag.err()).contains("'store 18'").contains("try 'edgefleet devices tag --help'");
    assertThat(create.exitCode()).isEqualTo(2);
    assertThat(create.err()).contains("'site' is not KEY=VALUE");
    assertThat(controller.devices().get(id).tags()).isEqualTo(Map.of("site", "store-17"));
    assertThat(controller.onboarding().list()).hasSize(tokens);
  }

  @Test
  void approvingAPendingDeviceByItsCodeLetsItsNextPollGetACertificate() {
    EnrollingDevice device = new EnrollingDevice(unique("pos"), unique("SN"));
    EnrollmentResponse pending = enroll(device, "--require-approval");
    assertThat(pending.status()).isEqualTo(Status.PENDING);
    assertThat(row(run("devices", "list", "--status", "PENDING").out(), pending.deviceId()))
        .contains(" PENDING ")
        .contains(pending.enrollmentCode());

    Cli.Result r = run("devices", "approve", pending.enrollmentCode());

    assertThat(r.err()).isEmpty();
    assertThat(r.exitCode()).isZero();
    assertThat(row(r.out(), pending.deviceId())).contains(" NEVER_SEEN ");
    assertThat(controller.devices().get(pending.deviceId()).status())
        .isEqualTo(DeviceStatus.NEVER_SEEN);
    EnrollmentResponse polled = device.askAgain().response();
    assertThat(polled.status()).isEqualTo(Status.APPROVED);
    assertThat(polled.deviceId()).isEqualTo(pending.deviceId());
    assertThat(polled.certificatePem()).contains("BEGIN CERTIFICATE");
  }

  @Test
  void rejectingAPendingDeviceRefusesItsNextPollAndCannotBeRepeated() {
    EnrollingDevice device = new EnrollingDevice(unique("pos"), unique("SN"));
    EnrollmentResponse pending = enroll(device, "--require-approval");

    Cli.Result r = run("devices", "reject", pending.deviceId());

    assertThat(r.exitCode()).isZero();
    assertThat(row(r.out(), pending.deviceId())).contains(" REJECTED ");
    assertThat(controller.devices().get(pending.deviceId()).status())
        .isEqualTo(DeviceStatus.REJECTED);
    assertThat(device.askAgain().error().errorCode()).isEqualTo(ErrorCode.ENROLLMENT_REJECTED);

    Cli.Result again = run("devices", "reject", pending.deviceId());

    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(again.err()).startsWith("error: ").contains("(CONFLICT)");
  }

  @Test
  void decommissioningADeviceRetiresIt() {
    EnrollingDevice device = new EnrollingDevice(unique("pos"), unique("SN"));
    EnrollmentResponse enrolled = enroll(device);

    Cli.Result r = run("devices", "decommission", enrolled.deviceId(), "-o", "json");

    assertThat(r.exitCode()).isZero();
    assertThat(json(r.out()).path("status").asText()).isEqualTo("DECOMMISSIONED");
    assertThat(controller.devices().get(enrolled.deviceId()).status())
        .isEqualTo(DeviceStatus.DECOMMISSIONED);
    assertThat(device.askAgain().error().errorCode()).isEqualTo(ErrorCode.DEVICE_DECOMMISSIONED);
  }

  @Test
  void preregisteredSerialEnrollsWithoutATokenAndGetsItsNameAndTags() {
    String serial = unique("SN-PRE");
    String name = unique("till");

    Cli.Result r =
        run("devices", "preregister", "--serial", serial, "--tag", "site=store-9", "--name", name);

    assertThat(r.err()).isEmpty();
    assertThat(r.exitCode()).isZero();
    assertThat(r.out().lines().findFirst())
        .hasValueSatisfying(
            h -> assertThat(h).matches("SERIAL +NAME +TAGS +APPROVAL +TPM +DEVICE +CREATED"));
    assertThat(row(r.out(), serial))
        .matches(
            Pattern.quote(serial) + " +" + name + " +site=store-9 +automatic +- +- +\\d+s ago");

    EnrollmentResponse enrolled =
        new EnrollingDevice(unique("pos"), serial).enrollBySerial(url, fingerprint).response();

    assertThat(enrolled.status()).isEqualTo(Status.APPROVED);
    JsonNode device = json(run("devices", "get", enrolled.deviceId(), "-o", "json").out());
    assertThat(device.path("name").asText()).isEqualTo(name);
    assertThat(device.path("tags")).isEqualTo(json("{\"site\":\"store-9\"}"));
    JsonNode preregistrations =
        json(run("devices", "preregistrations", "-o", "json").out()).path("items");
    assertThat(item(preregistrations, "serial", serial).path("deviceId").asText())
        .isEqualTo(enrolled.deviceId());
    assertThat(row(run("devices", "preregistrations").out(), serial))
        .contains(" " + enrolled.deviceId() + " ");
  }

  @Test
  void preregisteringASerialTwiceIsAConflict() {
    String serial = unique("SN-TWICE");
    assertThat(run("devices", "preregister", "--serial", serial).exitCode()).isZero();

    Cli.Result r = run("devices", "preregister", "--serial", serial, "--require-approval");

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err())
        .startsWith("error: serial " + serial + " is already pre-registered")
        .endsWith("(CONFLICT)" + System.lineSeparator());
  }

  // --- applications -------------------------------------------------------------------------

  @Test
  void appsStatusWithoutAnyApplicationIsTheHeaderAlone() {
    Cli.Result table = run("apps", "status");
    Cli.Result asJson = run("apps", "status", "-o", "json");

    assertThat(table.err()).isEmpty();
    assertThat(table.exitCode()).isZero();
    assertThat(table.out())
        .isEqualTo(
            "APP  SOURCE  DEVICES  READY  FAILED  PENDING  PENDING OFFLINE  NOT PLACED"
                + System.lineSeparator());
    assertThat(asJson.exitCode()).isZero();
    assertThat(json(asJson.out())).isEqualTo(json("{\"items\": []}"));
  }

  @Test
  void appsListOfAnEmptyCatalogIsTheHeaderAlone() {
    Cli.Result table = run("apps", "list");
    Cli.Result asJson = run("apps", "list", "-o", "json");

    assertThat(table.err()).isEmpty();
    assertThat(table.exitCode()).isZero();
    assertThat(table.out())
        .isEqualTo("NAME  LATEST  VERSIONS  KIND  DESCRIPTION" + System.lineSeparator());
    assertThat(json(asJson.out())).isEqualTo(json("{\"items\": []}"));
  }

  @Test
  void appsStatusOfAnUnknownAppIsNotFound() {
    Cli.Result r = run("apps", "status", "no-such-app");

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).startsWith("error: ").contains("no-such-app").contains("(NOT_FOUND)");
  }

  @Test
  void devicesAppsAndEventsOfADeviceWithoutApplicationsAreEmptyTables() {
    String id = enroll(new EnrollingDevice(unique("pos"), unique("SN"))).deviceId();

    Cli.Result apps = run("devices", "apps", id);
    Cli.Result events = run("devices", "events", id, "--limit", "5");
    Cli.Result appsJson = run("devices", "apps", id, "-o", "json");
    Cli.Result eventsJson = run("devices", "events", id, "-o", "json");

    assertThat(apps.err()).isEmpty();
    assertThat(apps.exitCode()).isZero();
    assertThat(apps.out())
        .isEqualTo(
            "APP  SOURCE  DESIRED  COMMIT  RUNNING  STATE  REASON  SINCE" + System.lineSeparator());
    assertThat(events.err()).isEmpty();
    assertThat(events.exitCode()).isZero();
    assertThat(events.out()).isEqualTo("TIME  AGE  KIND  MESSAGE" + System.lineSeparator());
    assertThat(json(appsJson.out())).isEqualTo(json("{\"items\": []}"));
    assertThat(json(eventsJson.out())).isEqualTo(json("{\"items\": []}"));
  }

  @Test
  void devicesMetricsOfADeviceThatSentNoTelemetrySaySoAndJsonIsTheApis() {
    String id = enroll(new EnrollingDevice(unique("pos"), unique("SN"))).deviceId();

    Cli.Result table = run("devices", "metrics", id, "--since", "15m");
    Cli.Result asJson = run("devices", "metrics", id, "-o", "json");

    assertThat(table.exitCode()).as(table.err()).isZero();
    assertThat(table.out()).isEqualTo("No telemetry from " + id + " in this time.\n");
    assertThat(json(asJson.out()).path("deviceId").asText()).isEqualTo(id);
    assertThat(json(asJson.out()).path("summaries").isArray()).isTrue();
  }

  @Test
  void devicesAppsAndEventsOfAnUnknownDeviceAreNotFound() {
    for (String verb : new String[] {"apps", "events", "metrics"}) {
      Cli.Result r = run("devices", verb, "dev-nope");

      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.err())
          .isEqualTo(
              "error: device 'dev-nope' does not exist (NOT_FOUND)" + System.lineSeparator());
    }
  }

  // --- repositories ---------------------------------------------------------------------------

  @Test
  void reposAddListGetHistoryDiffAndRemoveAGitRepository() throws Exception {
    String name = unique("shop");
    Path work = dir.resolve(name);
    String first;
    String second;
    try (Git git = Git.init().setDirectory(work.toFile()).setInitialBranch("main").call()) {
      first =
          commit(
              git, work, Map.of("apps/web/config.yaml", configMap("web-config", "1")), "Add web");

      // A target no device matches: the shared controller's apps stay empty for the other tests.
      Cli.Result add =
          run(
              "repos",
              "add",
              name,
              "--url",
              work.toUri().toString(),
              "--interval",
              "1h",
              "--target",
              "nobody=here");

      assertThat(add.err()).isEmpty();
      assertThat(add.exitCode()).isZero();
      JsonNode source = json(run("repos", "get", name, "-o", "json").out());
      String secret = source.path("webhookSecret").asText();
      assertThat(secret).isNotBlank();
      assertThat(source.path("webhookUrlPath").asText()).isEqualTo("/api/v1/hooks/git/" + name);
      assertThat(add.out())
          .containsPattern("Name: +" + name + "\n")
          .containsPattern("Target: +nobody=here\n")
          .contains("  Payload URL:   " + url + "/api/v1/hooks/git/" + name + "\n")
          .contains("  Content type:  application/json\n")
          .contains("  Secret:        " + secret + "\n");

      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(run("repos", "sync", name).exitCode()).isZero();
                assertThat(
                        json(run("repos", "get", name, "-o", "json").out())
                            .path("lastCommit")
                            .path("sha")
                            .asText())
                    .isEqualTo(first);
              });
      assertThat(row(run("repos", "list").out(), name))
          .matches(
              Pattern.quote(name)
                  + " +"
                  + Pattern.quote(work.toUri().toString())
                  + " +main +apps/? +nobody=here +"
                  + first.substring(0, 12)
                  + " +1 +\\d+s ago +-");
      assertThat(run("repos", "get", name).out())
          .containsPattern("Commit: +" + first + "\n")
          .containsPattern("Apps: +web\n")
          .containsPattern(
              "Revisions: +web sha256:[0-9a-f]{12} from " + first.substring(0, 12) + "\n")
          .containsPattern("Webhook URL: +" + Pattern.quote(url) + "/api/v1/hooks/git/" + name)
          .containsPattern("Webhook secret: +" + secret);

      second =
          commit(
              git,
              work,
              Map.of(
                  "apps/web/config.yaml",
                  configMap("web-config", "2"),
                  "apps/web/extra.yaml",
                  configMap("extra", "1")),
              "Change web");
    }

    Cli.Result sync = run("repos", "sync", name, "-o", "json");

    assertThat(sync.exitCode()).as(sync.err()).isZero();
    JsonNode synced = json(sync.out());
    assertThat(synced.path("changed").asBoolean()).isTrue();
    assertThat(synced.path("source").path("lastCommit").path("sha").asText()).isEqualTo(second);
    assertThat(run("repos", "sync", name).out())
        .endsWith(
            "synced "
                + name
                + ": no new commit (at "
                + second.substring(0, 12)
                + ")"
                + System.lineSeparator());

    String revision =
        json(run("repos", "get", name, "-o", "json").out())
            .path("revisions")
            .get(0)
            .path("revision")
            .asText();
    assertThat(revision).matches("sha256:[0-9a-f]{12}");
    String history = run("repos", "history", name).out();
    assertThat(row(history, second.substring(0, 12)))
        .matches(
            Pattern.quote(second.substring(0, 12))
                + " +APPLIED +0 +0 +0 +0 +\\d+s ago +web changed \\("
                + revision
                + "\\) +Change web +-");
    assertThat(row(history, first.substring(0, 12)))
        .matches(
            Pattern.quote(first.substring(0, 12))
                + " +SUPERSEDED +0 +0 +0 +0 +\\d+s ago +web added \\(sha256:[0-9a-f]{12}\\) +Add web"
                + " +-");
    JsonNode newest =
        json(run("repos", "history", name, "--limit", "1", "-o", "json").out()).path("items");
    assertThat(newest.findValuesAsText("sha")).containsExactly(second);

    Cli.Result diff = run("repos", "diff", name, second);

    assertThat(diff.exitCode()).as(diff.err()).isZero();
    assertThat(diff.out())
        .containsPattern("Commit: +" + second + "\n")
        .containsPattern("Author: +Ada <ada@example.com>\n")
        .containsPattern("Status: +APPLIED\n")
        .containsPattern("Apps: +web changed \\(" + revision + "\\)\n")
        .containsPattern("\nweb +added +ConfigMap/web/extra\n")
        .containsPattern("\nweb +changed +ConfigMap/web/web-config\n")
        .contains("\nweb:\n--- /dev/null\n+++ b/v1 ConfigMap web/extra\n@@ -0,0 +1,7 @@\n")
        .contains("--- a/v1 ConfigMap web/web-config\n+++ b/v1 ConfigMap web/web-config\n")
        .contains("\n-  value: \"1\"\n+  value: \"2\"\n");
    assertThat(run("repos", "diff", name, first).out())
        .containsPattern("\nweb +added +ConfigMap/web/web-config\n");

    // A broken commit: sync says it was refused and why, and exits non-zero.
    String broken;
    try (Git git = Git.open(work.toFile())) {
      broken = commit(git, work, Map.of("apps/web/config.yaml", "kind: [oops\n"), "Break web");
    }
    Cli.Result refused = run("repos", "sync", name);
    assertThat(refused.exitCode()).isEqualTo(1);
    assertThat(refused.out())
        .contains(
            "synced "
                + name
                + ": commit "
                + broken.substring(0, 12)
                + " was refused (commit "
                + second.substring(0, 12)
                + " stays in effect): app 'web': ")
        .contains("config.yaml");
    assertThat(run("repos", "sync", name).exitCode()).isEqualTo(1);

    Cli.Result remove = run("repos", "remove", name);

    assertThat(remove.exitCode()).as(remove.err()).isZero();
    assertThat(remove.out()).isEqualTo("removed repository " + name + System.lineSeparator());
    Cli.Result gone = run("repos", "get", name);
    assertThat(gone.exitCode()).isEqualTo(1);
    assertThat(gone.err()).startsWith("error: ").contains("(NOT_FOUND)");
  }

  @Test
  void aBrokenAppIsRefusedAloneAndTheOthersAreApplied() throws Exception {
    String name = unique("mixed");
    Path work = dir.resolve(name);
    try (Git git = Git.init().setDirectory(work.toFile()).setInitialBranch("main").call()) {
      String first =
          commit(
              git,
              work,
              Map.of(
                  "apps/web/config.yaml",
                  configMap("web-config", "1"),
                  "apps/db/config.yaml",
                  configMap("db-config", "1")),
              "Add web and db");
      Cli.Result add =
          run(
              "repos",
              "add",
              name,
              "--url",
              work.toUri().toString(),
              "--interval",
              "1h",
              "--target",
              "nobody=here");
      assertThat(add.exitCode()).as(add.err()).isZero();
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () ->
                  assertThat(
                          json(run("repos", "get", name, "-o", "json").out())
                              .path("lastCommit")
                              .path("sha")
                              .asText())
                      .isEqualTo(first));

      String second =
          commit(
              git,
              work,
              Map.of(
                  "apps/web/config.yaml",
                  configMap("web-config", "2"),
                  "apps/db/config.yaml",
                  "kind: [oops\n"),
              "Change web, break db");

      Cli.Result sync = run("repos", "sync", name);
      assertThat(sync.exitCode()).isEqualTo(1);
      assertThat(sync.out())
          .contains(
              "synced "
                  + name
                  + ": commit "
                  + second.substring(0, 12)
                  + " was applied without one app: app 'db' was refused (it stays at sha256:")
          .contains("config.yaml");
      JsonNode source = json(run("repos", "get", name, "-o", "json").out());
      assertThat(source.path("lastCommit").path("sha").asText()).isEqualTo(second);
      assertThat(source.path("revisions").findValuesAsText("commit"))
          .containsExactly(first, second);
      assertThat(run("repos", "get", name).out())
          .containsPattern(
              "Revisions: +db sha256:[0-9a-f]{12} from "
                  + first.substring(0, 12)
                  + " \\(new content refused: ");
      assertThat(row(run("repos", "history", name).out(), second.substring(0, 12)))
          .contains("db refused (sha256:")
          .contains("web changed (sha256:");
      assertThat(run("repos", "diff", name, second).out()).containsPattern("\ndb +refused +");

      String fixed =
          commit(git, work, Map.of("apps/db/config.yaml", configMap("db-config", "2")), "Fix db");
      Cli.Result again = run("repos", "sync", name);
      assertThat(again.exitCode()).as(again.err()).isZero();
      assertThat(again.out()).contains("new commit " + fixed.substring(0, 12) + " applied");
      assertThat(
              json(run("repos", "get", name, "-o", "json").out())
                  .path("revisions")
                  .findValuesAsText("commit"))
          .containsExactly(fixed, second);
    }
    assertThat(run("repos", "remove", name).exitCode()).isZero();
  }

  @Test
  void reposAddAsJsonPrintsTheSourceAndTheWebhookHintOnStderr() throws Exception {
    String name = unique("lab");
    Path work = dir.resolve(name);
    try (Git git = Git.init().setDirectory(work.toFile()).setInitialBranch("main").call()) {
      commit(git, work, Map.of("apps/kiosk/config.yaml", configMap("kiosk", "1")), "Add kiosk");
    }

    Cli.Result r =
        run(
            "repos",
            "add",
            name,
            "--url",
            work.toUri().toString(),
            "--target",
            "nobody=here",
            "-o",
            "json");

    assertThat(r.exitCode()).as(r.err()).isZero();
    JsonNode source = json(r.out());
    assertThat(source.path("name").asText()).isEqualTo(name);
    assertThat(source.path("auth").asText()).isEqualTo("none");
    assertThat(source.path("target").asText()).isEqualTo("nobody=here");
    assertThat(source.has("token")).isFalse();
    assertThat(r.err())
        .contains("Payload URL:   " + url + source.path("webhookUrlPath").asText())
        .contains("Secret:        " + source.path("webhookSecret").asText());

    Cli.Result again =
        run("repos", "add", name, "--url", work.toUri().toString(), "--target", "nobody=here");

    assertThat(again.exitCode()).isEqualTo(1);
    assertThat(again.err()).startsWith("error: ").contains("(CONFLICT)");
    assertThat(run("repos", "remove", name).exitCode()).isZero();
  }

  @Test
  void reposAddWithABadSelectorIsRefusedByTheController() {
    Cli.Result r =
        run("repos", "add", unique("bad"), "--url", "file:///nowhere", "--target", "site in (");

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err()).startsWith("error: ").contains("(VALIDATION_FAILED)");
  }

  @Test
  void unknownRepositoryIsNotFound() {
    for (String[] args :
        new String[][] {
          {"repos", "get", "no-such-repo"},
          {"repos", "sync", "no-such-repo"},
          {"repos", "history", "no-such-repo"},
          {"repos", "remove", "no-such-repo"}
        }) {
      Cli.Result r = run(args);

      assertThat(r.exitCode()).as(String.join(" ", args)).isEqualTo(1);
      assertThat(r.err()).startsWith("error: ").contains("(NOT_FOUND)");
    }
  }

  // helpers to add next to the others:

  /** Writes the files into the work tree, commits them as Ada and returns the commit's SHA. */
  private static String commit(Git git, Path work, Map<String, String> files, String message)
      throws IOException, GitAPIException {
    for (Map.Entry<String, String> file : files.entrySet()) {
      Path path = work.resolve(file.getKey());
      Files.createDirectories(path.getParent());
      Files.writeString(path, file.getValue());
    }
    git.add().addFilepattern(".").call();
    return git.commit()
        .setMessage(message)
        .setAuthor("Ada", "ada@example.com")
        .setCommitter("Ada", "ada@example.com")
        .setSign(false)
        .call()
        .getName();
  }

  private static String configMap(String name, String value) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
        + name
        + "\ndata:\n  value: \""
        + value
        + "\"\n";
  }

  // --- failures -----------------------------------------------------------------------------

  @Test
  void unknownDeviceIsNotFoundOnStderrWithExitOne() {
    Cli.Result r = run("devices", "get", "dev-nope");

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err())
        .isEqualTo("error: device 'dev-nope' does not exist (NOT_FOUND)" + System.lineSeparator());
  }

  @Test
  void wrongApiTokenIsRefusedWithAHint() {
    // The flag overrides the config file's token only; server and CA still come from the file.
    Cli.Result fromConfig = run("devices", "list", "--token", "efa_wrong");
    Cli.Result fromFlags =
        Cli.run(
            "devices",
            "list",
            "--server",
            url,
            "--token",
            "efa_wrong",
            "--ca-fingerprint",
            fingerprint);

    for (Cli.Result r : new Cli.Result[] {fromConfig, fromFlags}) {
      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.out()).isEmpty();
      assertThat(r.err())
          .startsWith("error: the bearer token is not valid for this controller (UNAUTHENTICATED)")
          .contains("check --token, EDGEFLEET_TOKEN or the token in cli-config.json");
    }
  }

  @Test
  void wrongPinnedFingerprintIsRefusedAndNamesWhatTheControllerPresented() {
    String wrong = "sha256:" + "0".repeat(64);

    Cli.Result r = run("devices", "list", "--ca-fingerprint", wrong);

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err())
        .startsWith(
            "error: the controller's CA does not match the pinned fingerprint "
                + wrong
                + ": the controller at "
                + url)
        .contains(fingerprint)
        .contains("take caFingerprint from that controller's cli-config.json");
  }

  @Test
  void closedPortSaysTheControllerCannotBeReached() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }

    Cli.Result r =
        Cli.run(
            "devices",
            "list",
            "--server",
            "https://127.0.0.1:" + port,
            "--token",
            adminToken,
            "--ca-fingerprint",
            fingerprint);

    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.err())
        .isEqualTo(
            "error: cannot reach the controller at https://127.0.0.1:"
                + port
                + ": connection refused"
                + System.lineSeparator()
                + "is the controller running? (the URL came from --server)"
                + System.lineSeparator());
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Runs the CLI against the controller through the config file it wrote. */
  private static Cli.Result run(String... args) {
    return Cli.run(
        Stream.concat(Stream.of(args), Stream.of("--config", controller.cliConfig().toString()))
            .toArray(String[]::new));
  }

  /** Creates an onboarding token through the CLI and returns the API's answer. */
  private static JsonNode createToken(String... options) {
    String[] args =
        Stream.concat(Stream.of("onboarding", "create", "-o", "json"), Stream.of(options))
            .toArray(String[]::new);
    Cli.Result r = run(args);
    assertThat(r.exitCode()).as(r.err()).isZero();
    return json(r.out());
  }

  /** Enrolls the device with a fresh token created with these {@code onboarding create} options. */
  private static EnrollmentResponse enroll(EnrollingDevice device, String... tokenOptions) {
    return device
        .enroll(url, fingerprint, createToken(tokenOptions).path("token").asText())
        .response();
  }

  private static String shownToken(String out) {
    Matcher m = TOKEN.matcher(out);
    assertThat(m.find()).as("token line in%n%s", out).isTrue();
    return m.group(1);
  }

  /** The table line whose first cell is {@code first}. */
  private static String row(String table, String first) {
    return table
        .lines()
        .filter(line -> line.startsWith(first + " "))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no row for " + first + " in\n" + table));
  }

  private static JsonNode item(JsonNode items, String field, String value) {
    for (JsonNode item : items) {
      if (item.path(field).asText().equals(value)) {
        return item;
      }
    }
    throw new AssertionError("no item with " + field + "=" + value + " in " + items);
  }

  private static String unique(String prefix) {
    return prefix + "-" + NEXT.incrementAndGet();
  }

  private static String mode(Path file) {
    try {
      return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + text, e);
    }
  }
}
