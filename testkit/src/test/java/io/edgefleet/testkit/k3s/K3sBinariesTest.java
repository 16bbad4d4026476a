package io.edgefleet.testkit.k3s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stand-in launcher and the parts of the stand-in that need no network namespace. */
class K3sBinariesTest {
  @TempDir Path dir;

  @Test
  void launchersOfDifferentVersionsDifferAndCarryTheirVersion() throws Exception {
    Path a = K3sBinaries.standIn("v1.20.2+k3s1", dir.resolve("a"));
    Path b = K3sBinaries.standIn("v1.21.0+k3s1", dir.resolve("b"));

    assertThat(Files.isExecutable(a)).isTrue();
    assertThat(sha256(a)).isNotEqualTo(sha256(b));
    assertThat(K3sStandIn.versionOf(a)).isEqualTo("v1.20.2+k3s1");
    assertThat(K3sStandIn.versionOf(b)).isEqualTo("v1.21.0+k3s1");
  }

  @Test
  void aVersionNotShapedLikeK3sIsRefused() {
    assertThatThrownBy(() -> K3sBinaries.standIn("1.20.2", dir))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("v1.20.2+k3s1");
    assertThatThrownBy(() -> K3sBinaries.standIn("v1.20.2+k3s1'; rm -rf /", dir))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theLauncherReportsItsVersionLikeK3s() throws Exception {
    Path k3s = K3sBinaries.standIn("v1.21.0+k3s1", dir);

    Run r = run(k3s, "--version");

    assertThat(r.code).isZero();
    assertThat(r.out.lines().findFirst().orElse(""))
        .matches("k3s version v1\\.21\\.0\\+k3s1 \\(.+\\)");
  }

  @Test
  void aConfigurationWithoutTokenFailsWithAClearLine() throws Exception {
    Path k3s = K3sBinaries.standIn(K3sBinaries.DEFAULT_VERSION, dir);
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, "node-name: s1\nnode-ip: 10.0.0.2\ncluster-init: true\n");

    Run r = run(k3s, "server", "--config", config.toString());

    assertThat(r.code).isNotZero();
    assertThat(r.err).contains("configuration key `token` is required");
  }

  @Test
  void anUnknownCommandOrFlagIsRefused() throws Exception {
    Path k3s = K3sBinaries.standIn(K3sBinaries.DEFAULT_VERSION, dir);

    Run r = run(k3s, "etcd-snapshot");
    assertThat(r.code).isNotZero();
    assertThat(r.err).contains("unknown command etcd-snapshot");

    Run flag = run(k3s, "server", "--token", "x");
    assertThat(flag.code).isNotZero();
    assertThat(flag.err).contains("--config FILE only");
  }

  @Test
  void configurationMustBeAMapping() throws Exception {
    Path config = dir.resolve("list.yaml");
    Files.writeString(config, "- token\n- x\n");

    assertThatThrownBy(() -> K3sStandIn.readConfig(config))
        .isInstanceOf(K3sStandIn.Fatal.class)
        .hasMessageContaining("must be a YAML mapping");

    Path ok = dir.resolve("ok.yaml");
    Files.writeString(ok, "token: t\ndisable: [traefik]\nkube-apiserver-arg: [\"a=b\"]\n");
    assertThat(K3sStandIn.readConfig(ok))
        .containsEntry("token", "t")
        .containsEntry("disable", List.of("traefik"));
  }

  @Test
  void kubeconfigModesAreOctal() {
    assertThat(K3sStandIn.permissions("0600")).isEqualTo("rw-------");
    assertThat(K3sStandIn.permissions("644")).isEqualTo("rw-r--r--");
    assertThatThrownBy(() -> K3sStandIn.permissions("0900"))
        .isInstanceOf(K3sStandIn.Fatal.class)
        .hasMessageContaining("octal");
  }

  private record Run(int code, String out, String err) {}

  private static Run run(Path k3s, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(k3s.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    p.getOutputStream().close();
    // Both streams are small; read them after the exit.
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("k3s " + String.join(" ", args) + " did not exit within 60 s");
    }
    return new Run(
        p.exitValue(),
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
        new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  private static String sha256(Path file) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }
}
