package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConnectionOptionsTest {
  private static final String FP_A = "sha256:" + "a".repeat(64);
  private static final String FP_B = "sha256:" + "b".repeat(64);
  private static final String FP_C = "sha256:" + "c".repeat(64);

  @TempDir Path home;

  private final ConnectionOptions options = new ConnectionOptions();

  @Test
  void flagsWinOverEnvironmentAndConfigFile() throws IOException {
    writeDefaultConfig("https://file:1", "file-token", FP_C);
    options.server = "https://flag:1";
    options.caFingerprint = FP_A;

    Connection c =
        options.resolve(
            Optional.of("flag-token"),
            Map.of(
                "EDGEFLEET_SERVER", "https://env:1",
                "EDGEFLEET_TOKEN", "env-token",
                "EDGEFLEET_CA_FINGERPRINT", FP_B),
            home);

    assertThat(c.server()).hasToString("https://flag:1");
    assertThat(c.token()).isEqualTo("flag-token");
    assertThat(c.caFingerprint()).isEqualTo(FP_A);
    assertThat(c.origin()).isEqualTo("--server");
  }

  @Test
  void environmentWinsOverConfigFileSettingBySetting() throws IOException {
    writeDefaultConfig("https://file:1", "file-token", FP_C);

    Connection c = options.resolve(Optional.empty(), Map.of("EDGEFLEET_TOKEN", "env-token"), home);

    assertThat(c.server()).hasToString("https://file:1");
    assertThat(c.token()).isEqualTo("env-token");
    assertThat(c.caFingerprint()).isEqualTo(FP_C);
    assertThat(c.origin()).endsWith("cli-config.json");
  }

  @Test
  void explicitConfigFileIsUsedInsteadOfTheDefault() throws IOException {
    writeDefaultConfig("https://default:1", "default-token", FP_C);
    Path explicit = home.resolve("demo/cli-config.json");
    write(explicit, "https://demo:7443/", "demo-token", FP_A);

    Connection viaEnv =
        options.resolve(Optional.empty(), Map.of("EDGEFLEET_CONFIG", explicit.toString()), home);
    options.config = explicit;
    Connection viaFlag = options.resolve(Optional.empty(), Map.of(), home);

    for (Connection c : new Connection[] {viaEnv, viaFlag}) {
      assertThat(c.server()).hasToString("https://demo:7443");
      assertThat(c.token()).isEqualTo("demo-token");
      assertThat(c.caFingerprint()).isEqualTo(FP_A);
    }
  }

  @Test
  void nothingConfiguredSaysHowToFixIt() {
    assertThatThrownBy(() -> options.resolve(Optional.empty(), Map.of(), home))
        .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessage(
            "no controller configured: pass --server and --token, set"
                + " EDGEFLEET_CONFIG=<data dir>/cli-config.json, or start `edgefleet controller`"
                + " which writes ~/.edgefleet/controller/cli-config.json");
  }

  @Test
  void missingTokenIsAUsageError() {
    options.server = "https://c:1";

    assertThatThrownBy(() -> options.resolve(Optional.empty(), Map.of(), home))
        .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("no API token for https://c:1")
        .hasMessageContaining("--token");
  }

  @Test
  void missingFingerprintIsRefusedBecauseThereIsNoInsecureMode() {
    options.server = "https://c:1";

    assertThatThrownBy(() -> options.resolve(Optional.of("t"), Map.of(), home))
        .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("--ca-fingerprint")
        .hasMessageContaining("no insecure mode");
  }

  @Test
  void plainHttpIsRefused() {
    options.server = "http://c:1";
    options.caFingerprint = FP_A;

    assertThatThrownBy(() -> options.resolve(Optional.of("t"), Map.of(), home))
        .isInstanceOf(CliException.class)
        .hasMessageContaining("must look like https://HOST:PORT, got 'http://c:1' (from --server)");
  }

  @Test
  void explicitConfigFileThatDoesNotExistIsNamed() {
    Path missing = home.resolve("nope.json");

    assertThatThrownBy(
            () ->
                options.resolve(
                    Optional.empty(), Map.of("EDGEFLEET_CONFIG", missing.toString()), home))
        .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessage("config file " + missing + " (from EDGEFLEET_CONFIG) does not exist");
  }

  @Test
  void malformedConfigFileIsNamed() throws IOException {
    Path file = home.resolve(ConnectionOptions.DEFAULT_CONFIG);
    Files.createDirectories(file.getParent());
    Files.writeString(file, "{not json");

    assertThatThrownBy(() -> options.resolve(Optional.empty(), Map.of(), home))
        .isInstanceOf(CliException.class)
        .hasMessageStartingWith("cannot read config file " + file);
  }

  @Test
  void fingerprintsAreNormalizedAndBadOnesNamed() {
    String hex = "AB".repeat(32);
    String colons = String.join(":", java.util.Collections.nCopies(32, "AB"));

    assertThat(ConnectionOptions.normalizeFingerprint("SHA256:" + colons))
        .isEqualTo("sha256:" + "ab".repeat(32));
    assertThat(ConnectionOptions.normalizeFingerprint(hex)).isEqualTo("sha256:" + "ab".repeat(32));
    assertThatThrownBy(() -> ConnectionOptions.normalizeFingerprint("sha256:abc"))
        .hasMessageContaining("'sha256:abc' is not a CA fingerprint");
    assertThatThrownBy(() -> ConnectionOptions.normalizeFingerprint("sha256:" + "g".repeat(64)))
        .isInstanceOf(CliException.class);
  }

  @Test
  void connectionNeverPrintsTheToken() {
    options.server = "https://c:1";
    options.caFingerprint = FP_A;

    Connection c = options.resolve(Optional.of("efa_secret"), Map.of(), home);

    assertThat(c.toString()).doesNotContain("efa_secret").contains("https://c:1");
  }

  private void writeDefaultConfig(String server, String token, String fp) throws IOException {
    write(home.resolve(ConnectionOptions.DEFAULT_CONFIG), server, token, fp);
  }

  private static void write(Path file, String server, String token, String fp) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(
        file,
        "{\"server\":\"%s\",\"token\":\"%s\",\"caFingerprint\":\"%s\"}"
            .formatted(server, token, fp));
  }
}
