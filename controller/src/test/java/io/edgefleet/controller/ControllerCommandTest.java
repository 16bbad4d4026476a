package io.edgefleet.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditOptions;
import io.edgefleet.controller.events.EventLimits;
import io.edgefleet.controller.sso.OidcOptions;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The controller's options become its config. */
class ControllerCommandTest {

  private static ControllerConfig parse(String... args) {
    ControllerCommand command = new ControllerCommand();
    new CommandLine(command).parseArgs(args);
    return command.config();
  }

  private static ControllerConfig parse(java.util.Map<String, String> env, String... args) {
    ControllerCommand command = new ControllerCommand();
    command.env = env;
    new CommandLine(command).parseArgs(args);
    return command.config();
  }

  @Test
  void artifactsStayInTheDataDirectoryUnlessAnS3BucketIsGivenWithItsKeyFromTheEnvironment() {
    assertThat(parse(java.util.Map.of()).s3()).isEmpty();
    String[] s3 = {"--s3-endpoint", "https://minio.example:9000", "--s3-bucket", "edge"};

    assertThatThrownBy(() -> parse(java.util.Map.of(), s3))
        .hasMessageContaining("EDGEFLEET_S3_ACCESS_KEY_ID");
    assertThatThrownBy(
            () -> parse(java.util.Map.of(), "--s3-endpoint", "https://minio.example:9000"))
        .hasMessageContaining("--s3-bucket");
    assertThatThrownBy(() -> parse(java.util.Map.of(), "--s3-bucket", "edge"))
        .hasMessageContaining("--s3-endpoint");

    var aws = parse(java.util.Map.of("AWS_ACCESS_KEY_ID", "a", "AWS_SECRET_ACCESS_KEY", "b"), s3);
    assertThat(aws.s3().orElseThrow().credentials().accessKeyId()).isEqualTo("a");
    assertThat(aws.s3().orElseThrow().region()).isEqualTo("us-east-1");
    var both =
        parse(
            java.util.Map.of(
                "AWS_ACCESS_KEY_ID", "a",
                "AWS_SECRET_ACCESS_KEY", "b",
                "EDGEFLEET_S3_ACCESS_KEY_ID", "e",
                "EDGEFLEET_S3_SECRET_ACCESS_KEY", "f"),
            "--s3-endpoint",
            "https://minio.example:9000",
            "--s3-bucket",
            "edge",
            "--s3-prefix",
            "fleet/artifacts",
            "--s3-region",
            "eu-west-1");
    assertThat(both.s3().orElseThrow().credentials().accessKeyId()).isEqualTo("e");
    assertThat(both.s3().orElseThrow().prefix()).isEqualTo("fleet/artifacts/");
    assertThat(both.s3().orElseThrow().region()).isEqualTo("eu-west-1");
    assertThatThrownBy(
            () ->
                parse(
                    java.util.Map.of("AWS_ACCESS_KEY_ID", "a", "AWS_SECRET_ACCESS_KEY", "b"),
                    "--s3-endpoint",
                    "https://minio.example:9000",
                    "--s3-bucket",
                    "Not_A_Bucket"))
        .hasMessageContaining("--s3-*")
        .hasMessageContaining("bucket");
  }

  @Test
  void otherUrlsOfTheControllerAreHttpsAndKeptInOrder() {
    assertThat(parse().moreUrls()).isEmpty();
    assertThat(
            parse(
                    "--also-advertise-url",
                    "https://replica-2.example:7443",
                    "--also-advertise-url",
                    "https://10.0.0.3:7443")
                .moreUrls())
        .containsExactly("https://replica-2.example:7443", "https://10.0.0.3:7443");
    assertThatThrownBy(() -> parse("--also-advertise-url", "http://replica-2.example:7443"))
        .hasMessageContaining("https");
  }

  @Test
  void theReplicaUrlIsAnHttpsOriginAndEmptyMeansTheAdvertisedUrl() {
    assertThat(parse().replicaUrl()).isEmpty();
    assertThat(parse("--replica-url", "https://10.1.2.3:7443").replicaUrl())
        .contains("https://10.1.2.3:7443");
    assertThatThrownBy(() -> parse("--replica-url", "http://10.1.2.3:7443"))
        .hasMessageContaining("https://host[:port]");
    assertThatThrownBy(() -> parse("--replica-url", "https://10.1.2.3:7443/api"))
        .hasMessageContaining("no path");
  }

  @Test
  void theEventLogKeeps30DaysAnd5MillionRowsPerTableUnlessTold() {
    assertThat(parse().events()).isEqualTo(EventLimits.defaults());
    assertThat(parse().events().retention()).isEqualTo(Duration.ofDays(30));
    assertThat(parse().events().maxRows()).isEqualTo(5_000_000);

    EventLimits told = parse("--event-retention", "7d", "--event-max-rows", "20000").events();
    assertThat(told.retention()).isEqualTo(Duration.ofDays(7));
    assertThat(told.maxRows()).isEqualTo(20_000);
  }

  @Test
  void theAuditLogIsCheckpointedEvery1000EntriesOr10MinutesAndStreamedOnlyWhenTold() {
    AuditOptions defaults = parse().audit();
    assertThat(defaults.checkpointEvery()).isEqualTo(1000);
    assertThat(defaults.checkpointInterval()).isEqualTo(Duration.ofMinutes(10));
    assertThat(defaults.webhook()).isEmpty();
    assertThat(defaults.syslog()).isEmpty();

    AuditOptions told =
        parse(
                "--audit-checkpoint-every",
                "50",
                "--audit-checkpoint-interval",
                "1m",
                "--audit-webhook",
                "https://siem.example/in",
                "--audit-syslog",
                "udp://siem.example:514")
            .audit();
    assertThat(told.checkpointEvery()).isEqualTo(50);
    assertThat(told.checkpointInterval()).isEqualTo(Duration.ofMinutes(1));
    assertThat(told.webhook()).contains(URI.create("https://siem.example/in"));
    assertThat(told.syslog()).contains(new AuditOptions.SyslogTarget("siem.example", 514, true));
  }

  @Test
  void singleSignOnIsOffUnlessAnIssuerAndClientAreGiven(@TempDir Path dir) throws Exception {
    assertThat(parse().oidc()).isEmpty();
    Path secret = dir.resolve("secret");
    Files.writeString(secret, "s3cret\n");
    OidcOptions o =
        parse(
                "--oidc-issuer",
                "https://login.example.com/realms/ops",
                "--oidc-client-id",
                "edgefleet",
                "--oidc-client-secret-file",
                secret.toString(),
                "--oidc-groups-claim",
                "roles",
                "--oidc-group-role",
                "ops=operator",
                "--oidc-group-role",
                "eu=viewer@stores-eu",
                "--oidc-token-lifetime",
                "2h")
            .oidc()
            .orElseThrow();
    assertThat(o.issuer()).isEqualTo(URI.create("https://login.example.com/realms/ops"));
    assertThat(o.clientSecret()).contains("s3cret");
    assertThat(o.groupsClaim()).isEqualTo("roles");
    assertThat(o.groupRoles())
        .extracting(Object::toString)
        .containsExactly("ops=operator", "eu=viewer@stores-eu");
    assertThat(o.tokenLifetime()).isEqualTo(Duration.ofHours(2));

    assertThatThrownBy(() -> parse("--oidc-issuer", "https://login.example.com"))
        .hasMessageContaining("--oidc-client-id");
    assertThatThrownBy(
            () -> parse("--oidc-issuer", "http://login.example.com", "--oidc-client-id", "c"))
        .hasMessageContaining("https://");
    assertThatThrownBy(
            () ->
                parse(
                    "--oidc-issuer",
                    "https://login.example.com",
                    "--oidc-client-id",
                    "c",
                    "--oidc-group-role",
                    "ops"))
        .hasMessageContaining("--oidc-group-role");
    assertThatThrownBy(() -> parse("--oidc-group-role", "ops=operator"))
        .hasMessageContaining("need --oidc-issuer");
  }

  @Test
  void badAuditOptionsAreRefusedNamingTheOption() {
    assertThatThrownBy(() -> parse("--audit-webhook", "ftp://x/y"))
        .hasMessageContaining("--audit-webhook")
        .hasMessageContaining("not an http:// or https:// URL");
    assertThatThrownBy(() -> parse("--audit-syslog", "siem"))
        .hasMessageContaining("--audit-syslog")
        .hasMessageContaining("HOST:PORT");
    assertThatThrownBy(() -> parse("--audit-checkpoint-every", "0"))
        .hasMessageContaining("--audit-checkpoint-every")
        .hasMessageContaining("1 to 1000000");
    assertThatThrownBy(() -> parse("--audit-checkpoint-interval", "2d"))
        .hasMessageContaining("1s to 24h");
  }

  @Test
  void anEventRetentionUnderAnHourIsRefused() {
    assertThatThrownBy(() -> parse("--event-retention", "10m"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--event-retention")
        .hasMessageContaining("at least 1h");
  }

  @Test
  void devicesAreAttestedOnPcrs0To9Every4HoursAndEnrollWithATpmOnlyWithEkRoots() {
    assertThat(parse().trust().pcrs()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    assertThat(parse().trust().interval()).isEqualTo(Duration.ofHours(4));
    assertThat(parse().trust().tpmCa()).isEmpty();

    ControllerConfig told =
        parse(
            "--attestation-pcrs",
            "0-4,7,9",
            "--attestation-interval",
            "30m",
            "--tpm-ca",
            System.getProperty("java.io.tmpdir"));
    assertThat(told.trust().pcrs()).containsExactly(0, 1, 2, 3, 4, 7, 9);
    assertThat(told.trust().interval()).isEqualTo(Duration.ofMinutes(30));
    assertThat(told.trust().tpmCa()).isPresent();
  }

  @Test
  void aPcrThatDoesNotExistOrAMissingRootDirectoryIsRefused() {
    assertThatThrownBy(() -> parse("--attestation-pcrs", "0,24"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--attestation-pcrs")
        .hasMessageContaining("PCR 24 does not exist");
    assertThatThrownBy(() -> parse("--attestation-pcrs", "x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'x' is not a PCR index");
    assertThatThrownBy(() -> parse("--tpm-ca", "/nonexistent/roots"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--tpm-ca /nonexistent/roots is not a directory");
  }
}
