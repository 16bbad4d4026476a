package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local checks of {@code repos add} and the rendering of git sources and commits; the input is the
 * API's JSON.
 */
class ReposCommandTest {
  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
  private static final String SERVER = "https://c.example:7443";
  private static final String SHA = "0123456789abcdef0123456789abcdef01234567";
  private static final String SOURCE =
      "{\"name\":\"shop\",\"url\":\"https://git.example/shop.git\",\"branch\":\"main\","
          + "\"path\":\"apps/\",\"interval\":\"15s\",\"auth\":\"token\",\"target\":\"site=store-17\","
          + "\"webhookSecret\":\"whs_secret\",\"webhookUrlPath\":\"/api/v1/hooks/git/shop\","
          + "\"lastCommit\":{\"sha\":\""
          + SHA
          + "\",\"author\":\"Ada <ada@example.com>\",\"message\":\"Bump web to 1.2\\n\\nbody\","
          + "\"committedAt\":\"2025-06-01T11:00:00Z\"},"
          + "\"lastPolledAt\":\"2025-06-01T11:59:50Z\","
          + "\"apps\":[\"kiosk\",\"web\"],"
          + "\"revisions\":[{\"app\":\"kiosk\",\"revision\":\"sha256:1a2b3c4d5e6f\",\"commit\":\""
          + "fedcba9876543210fedcba9876543210fedcba98\"},"
          + "{\"app\":\"web\",\"revision\":\"sha256:abcdefabcdef\",\"commit\":\""
          + SHA
          + "\"}],\"createdAt\":\"2025-05-01T12:00:00Z\"}";

  @TempDir Path dir;

  // --- git token and ssh key --------------------------------------------------------------

  @Test
  void gitTokenFlagWinsOverTheEnvironment() {
    assertThat(ReposCommand.gitToken(" ght_1 ", false, Map.of("EDGEFLEET_GIT_TOKEN", "ght_env")))
        .contains("ght_1");
  }

  @Test
  void gitTokenComesFromTheEnvironmentWithoutFlagOrKey() {
    assertThat(ReposCommand.gitToken(null, false, Map.of("EDGEFLEET_GIT_TOKEN", "ght_env")))
        .contains("ght_env");
    assertThat(ReposCommand.gitToken(null, false, Map.of("EDGEFLEET_GIT_TOKEN", " ")))
        .isEqualTo(Optional.empty());
    assertThat(ReposCommand.gitToken(null, false, Map.of())).isEmpty();
  }

  @Test
  void anSshKeyOnTheCommandLineWinsOverATokenInTheEnvironment() {
    assertThat(ReposCommand.gitToken(null, true, Map.of("EDGEFLEET_GIT_TOKEN", "ght_env")))
        .isEmpty();
  }

  @Test
  void sshKeyAndGitTokenFlagsTogetherAreRefused() {
    assertThatThrownBy(() -> ReposCommand.gitToken("ght_1", true, Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--ssh-key and --git-token cannot be used together");
  }

  @Test
  void blankGitTokenIsRefused() {
    assertThatThrownBy(() -> ReposCommand.gitToken(" ", false, Map.of()))
        .hasMessage("--git-token must not be empty");
  }

  @Test
  void unencryptedOpenSshKeyIsReadAsItIs() throws IOException {
    String pem = openSsh("none");
    Path file = write("id_ed25519", pem);

    assertThat(ReposCommand.readSshKey(file)).isEqualTo(pem);
  }

  @Test
  void unencryptedPemKeyIsRead() throws IOException {
    String pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";

    assertThat(ReposCommand.readSshKey(write("key.pem", pem))).isEqualTo(pem);
  }

  @Test
  void keyWithAPassphraseIsRefused() throws IOException {
    Path openSsh = write("id_aes", openSsh("aes256-ctr"));
    Path pkcs8 =
        write(
            "pkcs8.pem",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n");
    Path pkcs1 =
        write(
            "rsa.pem",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
                + "MIIE\n-----END RSA PRIVATE KEY-----\n");

    for (Path file : new Path[] {openSsh, pkcs8, pkcs1}) {
      assertThatThrownBy(() -> ReposCommand.readSshKey(file))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "ssh key file "
                  + file
                  + " is protected by a passphrase; the controller needs a key without one (a"
                  + " deploy key)");
    }
  }

  @Test
  void publicKeyIsRefusedWithAHint() throws IOException {
    Path file = write("id_ed25519.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA me@host\n");

    assertThatThrownBy(() -> ReposCommand.readSshKey(file))
        .hasMessage(
            "ssh key file "
                + file
                + " holds a public key; pass the private key (the file without"
                + " .pub)");
  }

  @Test
  void fileWithoutAPrivateKeyIsRefused() throws IOException {
    Path file = write("notes.txt", "hello");

    assertThatThrownBy(() -> ReposCommand.readSshKey(file))
        .hasMessageStartingWith("ssh key file " + file + " holds no private key");
  }

  @Test
  void missingOrHugeKeyFileIsRefused() throws IOException {
    Path missing = dir.resolve("nope");
    Path huge = write("huge", "x".repeat(ReposCommand.MAX_SSH_KEY_BYTES + 1));

    assertThatThrownBy(() -> ReposCommand.readSshKey(missing))
        .hasMessage("ssh key file " + missing + " does not exist");
    assertThatThrownBy(() -> ReposCommand.readSshKey(dir))
        .hasMessage("ssh key file " + dir + " does not exist");
    assertThatThrownBy(() -> ReposCommand.readSshKey(huge))
        .hasMessage("ssh key file " + huge + " is too large for a private key");
  }

  // --- rendering ---------------------------------------------------------------------------

  @Test
  void tableShowsEachSourceWithItsShortCommitAndAppCount() {
    String table =
        ReposCommand.table(
            json(
                "["
                    + SOURCE
                    + ",{\"name\":\"lab\",\"url\":\"file:///srv/lab\",\"branch\":\"dev\","
                    + "\"path\":\".\",\"target\":\"\",\"apps\":[],"
                    + "\"lastError\":\"cannot reach the remote\\nsecond line\"}]"),
            NOW);

    assertThat(table.lines())
        .containsExactly(
            "NAME  URL                           BRANCH  PATH   TARGET         COMMIT        APPS "
                + " POLLED   ERROR",
            "shop  https://git.example/shop.git  main    apps/  site=store-17  0123456789ab  2    "
                + " 10s ago  -",
            "lab   file:///srv/lab               dev     .      (all devices)  -             0    "
                + " -        cannot reach the remote");
  }

  @Test
  void aSourceAddedWithoutABranchShowsThatItFollowsTheRemoteDefault() {
    String unresolved = "{\"name\":\"lab\",\"url\":\"file:///srv/lab\",\"apps\":[]}";
    assertThat(ReposCommand.table(json("[" + unresolved + "]"), NOW))
        .contains("lab   file:///srv/lab  (remote default)");
    assertThat(ReposCommand.details(json(unresolved), SERVER, NOW, false))
        .containsPattern("Branch: +\\(remote default\\)\n");
  }

  @Test
  void detailsShowTheCommitAppsAndWebhook() {
    String details = ReposCommand.details(json(SOURCE), SERVER, NOW, true);

    assertThat(details)
        .containsPattern("Name: +shop\n")
        .containsPattern("Target: +site=store-17\n")
        .containsPattern("Commit: +" + SHA + "\n")
        .containsPattern("Message: +Bump web to 1\\.2\n")
        .containsPattern("Author: +Ada <ada@example\\.com>\n")
        .containsPattern("Committed: +2025-06-01T11:00:00Z \\(1h ago\\)\n")
        .containsPattern("Apps: +kiosk,web\n")
        .containsPattern(
            "Revisions: +kiosk sha256:1a2b3c4d5e6f from fedcba987654, web sha256:abcdefabcdef"
                + " from 0123456789ab\n")
        .containsPattern("Last error: +-\n")
        .containsPattern("Webhook URL: +https://c\\.example:7443/api/v1/hooks/git/shop\n")
        .containsPattern("Webhook secret: +whs_secret\n");
    assertThat(ReposCommand.details(json(SOURCE), SERVER, NOW, false)).doesNotContain("Webhook");
  }

  @Test
  void webhookHintNamesUrlContentTypeAndSecret() {
    String hint = ReposCommand.webhookHint(json(SOURCE), SERVER);

    assertThat(hint)
        .startsWith("Webhook: a push then deploys at once instead of at the next poll (every 15s):")
        .contains("  Payload URL:   https://c.example:7443/api/v1/hooks/git/shop\n")
        .contains("  Content type:  application/json\n")
        .contains("  Secret:        whs_secret\n")
        .contains("GitHub:")
        .contains("GitLab:");
  }

  @Test
  void webhookUrlFallsBackToTheNameWhenThePathIsMissing() {
    assertThat(ReposCommand.webhookHint(json("{\"name\":\"shop\"}"), SERVER))
        .contains("Payload URL:   https://c.example:7443/api/v1/hooks/git/shop\n");
  }

  @Test
  void syncSummarySaysWhetherANewCommitCame() {
    assertThat(
            ReposCommand.syncSummary("shop", json("{\"changed\":true,\"source\":" + SOURCE + "}")))
        .isEqualTo("synced shop: new commit 0123456789ab applied: Bump web to 1.2");
    assertThat(
            ReposCommand.syncSummary("shop", json("{\"changed\":false,\"source\":" + SOURCE + "}")))
        .isEqualTo("synced shop: no new commit (at 0123456789ab)");
    assertThat(ReposCommand.syncSummary("shop", json("{\"changed\":false,\"source\":{}}")))
        .isEqualTo("synced shop: no new commit");
  }

  @Test
  void syncSummarySaysTheNewestCommitWasRefusedAndWhy() {
    JsonNode answer =
        json(
            "{\"changed\":false,\"source\":"
                + SOURCE
                + ",\"newest\":{\"sha\":\"fedcba9876543210fedcba9876543210fedcba98\","
                + "\"status\":\"FAILED\",\"error\":\"commit fedcba987654 was refused (commit"
                + " 0123456789ab stays in effect): app 'web': web/a.yaml: bad indentation\"}}");

    assertThat(ReposCommand.refused(answer)).isTrue();
    assertThat(ReposCommand.syncSummary("shop", answer))
        .isEqualTo(
            "synced shop: commit fedcba987654 was refused (commit 0123456789ab stays in effect):"
                + " app 'web': web/a.yaml: bad indentation");
    JsonNode applied =
        json(
            "{\"changed\":false,\"source\":"
                + SOURCE
                + ",\"newest\":{\"sha\":\""
                + SHA
                + "\",\"status\":\"APPLIED\"}}");
    assertThat(ReposCommand.refused(applied)).isFalse();
  }

  @Test
  void aCommitAppliedWithoutSomeAppsShowsWhichAndWhyAndSyncFails() {
    String commit =
        "{\"sha\":\""
            + SHA
            + "\",\"status\":\"APPLIED\",\"state\":\"ROLLING_OUT\","
            + "\"error\":\"commit 0123456789ab was applied without one app: app 'db' was refused"
            + " (it stays at sha256:1a2b3c4d5e6f from fedcba987654): db/a.yaml: bad\","
            + "\"apps\":[{\"app\":\"db\",\"change\":\"REFUSED\","
            + "\"revision\":\"sha256:1a2b3c4d5e6f\",\"error\":\"db/a.yaml: bad\"},"
            + "{\"app\":\"web\",\"change\":\"CHANGED\",\"revision\":\"sha256:abcdefabcdef\","
            + "\"changed\":[\"v1 ConfigMap web/web-config\"]}]}";
    JsonNode answer =
        json("{\"changed\":true,\"source\":" + SOURCE + ",\"newest\":" + commit + "}");

    assertThat(ReposCommand.refused(answer)).isTrue();
    assertThat(ReposCommand.syncSummary("shop", answer))
        .isEqualTo(
            "synced shop: commit 0123456789ab was applied without one app: app 'db' was refused"
                + " (it stays at sha256:1a2b3c4d5e6f from fedcba987654): db/a.yaml: bad");
    assertThat(ReposCommand.appChanges(json(commit)))
        .isEqualTo("db refused (sha256:1a2b3c4d5e6f), web changed (sha256:abcdefabcdef)");
    assertThat(ReposCommand.diff(json(commit), NOW))
        .contains(
            """
            APP  CHANGE   RESOURCE
            db   refused  db/a.yaml: bad
            web  changed  ConfigMap/web/web-config
            """);
    assertThat(
            ReposCommand.revisions(
                json(
                    "[{\"app\":\"db\",\"revision\":\"sha256:1a2b3c4d5e6f\",\"commit\":\""
                        + SHA
                        + "\",\"error\":\"db/a.yaml: bad\"},{\"app\":\"kiosk\","
                        + "\"error\":\"kiosk/a.yaml: no kind\"}]")))
        .isEqualTo(
            "db sha256:1a2b3c4d5e6f from 0123456789ab (new content refused: db/a.yaml: bad),"
                + " kiosk not deployed (new content refused: kiosk/a.yaml: no kind)");
  }

  @Test
  void historyListsCommitsWithWhereTheyStandTheirDeviceCountsAndErrors() {
    String table =
        ReposCommand.history(
            json(
                "[{\"sha\":\""
                    + SHA
                    + "\",\"author\":\"Ada <ada@example.com>\",\"message\":\"Bump web\\nbody\","
                    + "\"committedAt\":\"2025-06-01T11:55:00Z\",\"status\":\"APPLIED\","
                    + "\"state\":\"FAILED\","
                    + "\"devices\":{\"rendered\":3,\"delivered\":3,\"ready\":0,\"failed\":3},"
                    + "\"apps\":[{\"app\":\"web\",\"change\":\"CHANGED\","
                    + "\"revision\":\"sha256:1a2b3c4d5e6f\"}]},"
                    + "{\"sha\":\"fedcba9876543210\",\"author\":\"Bob\",\"message\":\"oops\","
                    + "\"committedAt\":\"2025-06-01T10:00:00Z\",\"status\":\"FAILED\","
                    + "\"state\":\"REFUSED\","
                    + "\"error\":\"web/deploy.yaml: document 1 has no kind\",\"apps\":[]},"
                    + "{\"sha\":\"abcdef0123456789\",\"message\":\"older controller\","
                    + "\"committedAt\":\"2025-06-01T09:00:00Z\",\"status\":\"APPLIED\","
                    + "\"apps\":[]}]"),
            NOW);

    assertThat(table.lines())
        .containsExactly(
            "SHA           STATUS   RENDERED  DELIVERED  READY  FAILED  COMMITTED  APPS           "
                + "                    MESSAGE           ERROR",
            "0123456789ab  FAILED   3         3          0      3       5m ago     web changed "
                + "(sha256:1a2b3c4d5e6f)  Bump web          -",
            "fedcba987654  REFUSED  -         -          -      -       2h ago     -              "
                + "                    oops              web/deploy.yaml: document 1 has no kind",
            "abcdef012345  APPLIED  -         -          -      -       3h ago     -              "
                + "                    older controller  -");
  }

  @Test
  void diffShowsPerAppTheAddedChangedAndRemovedResources() {
    String diff =
        ReposCommand.diff(
            json(
                "{\"source\":\"shop\",\"sha\":\""
                    + SHA
                    + "\",\"author\":\"Ada <ada@example.com>\",\"message\":\"Bump web\","
                    + "\"committedAt\":\"2025-06-01T11:55:00Z\","
                    + "\"recordedAt\":\"2025-06-01T11:56:00Z\",\"status\":\"APPLIED\","
                    + "\"apps\":[{\"app\":\"web\",\"change\":\"CHANGED\","
                    + "\"revision\":\"sha256:1a2b3c4d5e6f\","
                    + "\"added\":[\"v1 ConfigMap shop/web-config\"],"
                    + "\"changed\":[\"apps/v1 Deployment shop/web\"],"
                    + "\"removed\":[\"v1 Service shop/web-old\"]},"
                    + "{\"app\":\"kiosk\",\"change\":\"ADDED\","
                    + "\"added\":[\"v1 Namespace kiosk\",\"apps/v1 Deployment kiosk/kiosk\"],"
                    + "\"changed\":[],\"removed\":[]}]}"),
            NOW);

    assertThat(diff)
        .containsPattern("Repository: +shop\n")
        .containsPattern("Commit: +" + SHA + "\n")
        .containsPattern("Status: +APPLIED\n")
        .containsPattern("Apps: +web changed \\(sha256:1a2b3c4d5e6f\\), kiosk added\n")
        .endsWith(
            """

            APP    CHANGE   RESOURCE
            web    added    ConfigMap/shop/web-config
            web    changed  Deployment/shop/web
            web    removed  Service/shop/web-old
            kiosk  added    Namespace/kiosk
            kiosk  added    Deployment/kiosk/kiosk
            """);
  }

  @Test
  void diffShowsTheContentDiffOfEachAppAfterTheResources() {
    String diff =
        ReposCommand.diff(
            json(
                "{\"sha\":\""
                    + SHA
                    + "\",\"status\":\"APPLIED\",\"apps\":[{\"app\":\"web\",\"change\":\"CHANGED\","
                    + "\"changed\":[\"v1 ConfigMap web/web-config\"],"
                    + "\"diff\":\"--- a/v1 ConfigMap web/web-config\\n+++ b/v1 ConfigMap"
                    + " web/web-config\\n@@ -1 +1 @@\\n-  greeting: hello\\n+  greeting: bye\\n"
                    + "… 12 more lines\\n\"},"
                    + "{\"app\":\"db\",\"change\":\"CHANGED\"}]}"),
            NOW);

    assertThat(diff)
        .endsWith(
            """
            APP  CHANGE   RESOURCE
            web  changed  ConfigMap/web/web-config
            db   changed  -

            web:
            --- a/v1 ConfigMap web/web-config
            +++ b/v1 ConfigMap web/web-config
            @@ -1 +1 @@
            -  greeting: hello
            +  greeting: bye
            … 12 more lines
            """);
  }

  @Test
  void diffOfARefusedCommitSaysSoAndShowsTheError() {
    String diff =
        ReposCommand.diff(
            json(
                "{\"sha\":\""
                    + SHA
                    + "\",\"status\":\"FAILED\",\"error\":\"bad yaml\",\"apps\":[]}"),
            NOW);

    assertThat(diff)
        .containsPattern("Error: +bad yaml\n")
        .endsWith("\nno application changed: the commit was refused\n");
  }

  @Test
  void resourceIdentitiesReadAsKindNamespaceName() {
    assertThat(ReposCommand.resource("apps/v1 Deployment shop/web"))
        .isEqualTo("Deployment/shop/web");
    assertThat(ReposCommand.resource("rbac.authorization.k8s.io/v1 ClusterRole reader"))
        .isEqualTo("ClusterRole/reader");
    assertThat(ReposCommand.resource("Deployment/shop/web")).isEqualTo("Deployment/shop/web");
  }

  @Test
  void shortShaAndFirstLine() {
    assertThat(Formats.revision(SHA)).isEqualTo("0123456789ab");
    assertThat(Formats.revision("sha256:1a2b3c4d5e6f")).isEqualTo("sha256:1a2b3c4d5e6f");
    assertThat(Formats.revision("2.0.0+0badcafe")).isEqualTo("2.0.0+0badcafe");
    assertThat(Formats.revision("abc")).isEqualTo("abc");
    assertThat(ReposCommand.firstLine("subject\n\nbody")).isEqualTo("subject");
    assertThat(ReposCommand.abbreviate("abcdef", 4)).isEqualTo("abc…");
  }

  /** OpenSSH private key text whose only meaningful content is the cipher name. */
  private static String openSsh(String cipher) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.write("openssh-key-v1\0".getBytes(StandardCharsets.US_ASCII));
    for (String s : new String[] {cipher, "none".equals(cipher) ? "none" : "bcrypt", ""}) {
      out.writeInt(s.length());
      out.write(s.getBytes(StandardCharsets.US_ASCII));
    }
    out.writeInt(1);
    String body = Base64.getMimeEncoder(70, "\n".getBytes()).encodeToString(bytes.toByteArray());
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + body + "\n-----END OPENSSH PRIVATE KEY-----\n";
  }

  private Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  private static JsonNode json(String text) {
    try {
      return Json.mapper().readTree(text);
    } catch (IOException e) {
      throw new AssertionError(text, e);
    }
  }
}
