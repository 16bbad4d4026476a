package io.edgefleet.controller.gitops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Polling over real network transports: git daemon, smart HTTP with a token, and ssh. */
class GitTransportsIT {
  @TempDir Path tmp;
  Database db;
  GitOps gitops;
  Upstream up;
  Path served;

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(Database.sqliteUrl(data), null, null);
    gitops =
        new GitOps(
            db.jdbi(),
            Clock.systemUTC(),
            new AuditLog(db.jdbi(), Clock.systemUTC()),
            data.resolve("gitops"),
            new SecretBox(data.resolve("secret.key")),
            name -> {});
    served = Files.createDirectories(tmp.resolve("served"));
    up = Upstream.create(served.resolve("fleet"));
  }

  @AfterEach
  void tearDown() {
    gitops.close();
    db.close();
    up.close();
  }

  @Test
  void gitDaemon() throws Exception {
    try (GitServers.Daemon daemon = new GitServers.Daemon(served)) {
      String first = up.write("apps/web/a.yaml", GitOpsContract.CONFIG).commit("first");
      gitops.add(
          new AddSource("daemon", daemon.url("fleet"), null, null, null, null, null, ""), "alice");

      assertThat(gitops.pollNow("daemon")).isTrue();
      assertThat(gitops.get("daemon").lastCommit().sha()).isEqualTo(first);

      assertThat(gitops.pollNow("daemon")).isFalse();
      long fetches = gitops.stats().fetches();
      String second = up.write("apps/web/b.yaml", GitOpsContract.SERVICE).commit("second");
      assertThat(gitops.pollNow("daemon")).isTrue();
      assertThat(gitops.stats().fetches()).isEqualTo(fetches + 1);
      assertThat(gitops.commit("daemon", second).apps().get(0).added())
          .containsExactly("v1 Service web/web");
    }
  }

  @Test
  void smartHttpWithAToken() throws Exception {
    try (GitServers.Http http = new GitServers.Http(served, "ci-bot", "tok-123")) {
      String first = up.write("apps/web/a.yaml", GitOpsContract.CONFIG).commit("first");

      gitops.add(
          new AddSource("http", http.url("fleet"), null, null, null, null, "ci-bot:tok-123", ""),
          "alice");
      assertThat(gitops.pollNow("http")).isTrue();
      assertThat(gitops.get("http").lastCommit().sha()).isEqualTo(first);
      assertThat(gitops.get("http").auth()).isEqualTo("token");

      // A second fetch negotiates with what the first one brought.
      String second = up.write("apps/web/b.yaml", GitOpsContract.SERVICE).commit("second");
      assertThat(gitops.pollNow("http")).isTrue();
      assertThat(gitops.commit("http", second).apps().get(0).added())
          .containsExactly("v1 Service web/web");

      AddSource wrong =
          new AddSource("wrong", http.url("fleet"), null, null, null, null, "ci-bot:nope", "");
      assertThatThrownBy(() -> gitops.add(wrong, "alice"))
          .isInstanceOfSatisfying(
              ControllerException.class,
              e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.GIT_REMOTE_UNREACHABLE);
                assertThat(e.getMessage()).contains("cannot list branches of");
              });
      gitops.add(wrong.forced(), "alice");
      assertThat(gitops.pollNow("wrong")).isFalse();
      assertThat(gitops.get("wrong").lastError()).contains("cannot list branches of");
      assertThat(http.refused.get()).isPositive();
    }
  }

  @Test
  void sshWithAnInMemoryKeyAndAPinnedHostKey() throws Exception {
    Path keyFile = tmp.resolve("id_ed25519");
    Process p =
        new ProcessBuilder(
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "deploy",
                "-f",
                keyFile.toString())
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor()).isZero();
    String privateKey = Files.readString(keyFile);
    var userKey = SshKeys.privateKey(privateKey);
    KeyPair hostKey = ecKey();
    String first = up.write("apps/web/a.yaml", GitOpsContract.CONFIG).commit("first");

    try (GitServers.Ssh ssh = new GitServers.Ssh(served, hostKey, userKey.getPublic())) {
      SourceView added =
          gitops.add(
              new AddSource("ssh", ssh.url("fleet"), null, null, null, privateKey, null, ""),
              "alice");
      // Checked when added: the key the server showed then is pinned from the start.
      assertThat(added.sshHostKey()).isEqualTo(SshKeys.fingerprint(hostKey.getPublic()));

      assertThat(gitops.pollNow("ssh")).isTrue();
      SourceView v = gitops.get("ssh");
      assertThat(v.lastCommit().sha()).isEqualTo(first);
      assertThat(v.auth()).isEqualTo("ssh");
      assertThat(v.sshHostKey()).isEqualTo(SshKeys.fingerprint(hostKey.getPublic()));
      assertThat(gitops.pollNow("ssh")).isFalse();
      assertThat(gitops.get("ssh").lastError()).isNull();

      // A source that pinned another host key refuses this server, when added and on each poll.
      AddSource mitm =
          new AddSource(
              "mitm",
              ssh.url("fleet"),
              null,
              null,
              null,
              privateKey,
              null,
              "",
              SshKeys.openSsh(ecKey().getPublic()));
      assertThatThrownBy(() -> gitops.add(mitm, "alice"))
          .isInstanceOfSatisfying(
              ControllerException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("ssh host key")
                      .contains(SshKeys.fingerprint(hostKey.getPublic())));
      gitops.add(mitm.forced(), "alice");
      assertThat(gitops.pollNow("mitm")).isFalse();
      assertThat(gitops.get("mitm").lastError())
          .contains("ssh host key")
          .contains("changed")
          .contains(SshKeys.fingerprint(hostKey.getPublic()));
    }

    // The pinned key also holds across restarts of the engine: a server with a new key is refused.
    try (GitServers.Ssh impostor = new GitServers.Ssh(served, ecKey(), userKey.getPublic())) {
      gitops.close();
      Path data = tmp.resolve("data");
      gitops =
          new GitOps(
              db.jdbi(),
              Clock.systemUTC(),
              new AuditLog(db.jdbi(), Clock.systemUTC()),
              data.resolve("gitops"),
              new SecretBox(data.resolve("secret.key")),
              name -> {});
      gitops.add(
          new AddSource(
                  "again",
                  impostor.url("fleet"),
                  null,
                  null,
                  null,
                  privateKey,
                  null,
                  "",
                  SshKeys.openSsh(hostKey.getPublic()))
              .forced(),
          "alice");
      assertThat(gitops.pollNow("again")).isFalse();
      assertThat(gitops.get("again").lastError()).contains("ssh host key");
    }
  }

  private static KeyPair ecKey() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }
}
