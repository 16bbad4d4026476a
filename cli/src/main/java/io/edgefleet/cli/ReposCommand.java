package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet repos …}: the git repositories whose applications the controller deploys. */
@Command(
    name = "repos",
    description = "Add, list, inspect, sync and remove git repositories of applications.",
    subcommands = {
      ReposCommand.Add.class,
      ReposCommand.ListRepos.class,
      ReposCommand.Get.class,
      ReposCommand.Remove.class,
      ReposCommand.Sync.class,
      ReposCommand.History.class,
      ReposCommand.Diff.class
    })
final class ReposCommand {
  static final String REPOS = "/api/v1/repos";
  static final String GIT_TOKEN_ENV = "EDGEFLEET_GIT_TOKEN";
  static final String HOOKS = "/api/v1/hooks/git/";

  /** Larger than any ssh private key; a bigger file is the wrong file. */
  static final int MAX_SSH_KEY_BYTES = 64 * 1024;

  private static final int MAX_MESSAGE = 80;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "add",
      description = {
        "Add a git repository. Each directory under --path is an application, deployed to the"
            + " devices --target selects.",
        "Prints the webhook URL and secret to configure in GitHub or GitLab."
      })
  static final class Add extends TokenCommand {
    @Parameters(
        paramLabel = "NAME",
        converter = Converters.SourceName.class,
        description = "Name of the repository in edgefleet: lower-case letters, digits and '-'.")
    String name;

    @Option(
        names = "--url",
        required = true,
        paramLabel = "URL",
        converter = Converters.NonBlank.class,
        description = "Clone URL: https://…, ssh://…, git@host:path or file://…")
    String url;

    @Option(
        names = "--branch",
        paramLabel = "BRANCH",
        converter = Converters.NonBlank.class,
        description =
            "Branch to follow (default: the repository's default branch, where its HEAD points;"
                + " resolved when it is added and kept).")
    String branch;

    @Option(
        names = "--path",
        paramLabel = "DIR",
        converter = Converters.NonBlank.class,
        description =
            "Directory whose subdirectories are the applications; . for the root (default: apps/).")
    String path;

    @Option(
        names = "--interval",
        paramLabel = "DURATION",
        converter = Converters.DurationText.class,
        description = "How often the branch is checked, at least 5s (default: 15s).")
    String interval;

    @Option(
        names = "--ssh-key",
        paramLabel = "FILE",
        description = "Private key file (OpenSSH or PEM, no passphrase) for ssh URLs.")
    Path sshKey;

    @Option(
        names = "--git-token",
        paramLabel = "TOKEN",
        description =
            "Access token (or USER:TOKEN) for https URLs (env "
                + GIT_TOKEN_ENV
                + ", which keeps it out of the shell history).")
    String gitToken;

    @Option(
        names = "--ssh-host-key",
        paramLabel = "KEY",
        converter = Converters.NonBlank.class,
        description =
            "The ssh server's public key to pin ('ssh-ed25519 AAAA…', see ssh-keyscan);"
                + " by default the key seen on the first connection is pinned.")
    String sshHostKey;

    @Option(
        names = "--target",
        required = true,
        paramLabel = "SELECTOR",
        description =
            "Devices the applications are for, a selector over tags such as 'site=store-17',"
                + " 'role in (pos,kiosk)' or 'env!=lab'; '*' or '' selects every device.")
    String target;

    @Option(
        names = "--rollout",
        paramLabel = "POLICY.yaml",
        description =
            "Roll each new revision of the applications out in phases under this policy (canary,"
                + " waves, thresholds, windows); see `deploy --help`. Default: all devices at once.")
    Path rollout;

    @Mixin PreflightOptions preflight;

    @Mixin ProjectOption project;

    private String sshKeyText;
    private String policy;
    private Optional<String> token = Optional.empty();

    @Override
    void validate() {
      try {
        token = gitToken(gitToken, sshKey != null, Invocation.current().env());
        if (sshKey != null) {
          sshKeyText = readSshKey(sshKey);
        }
        policy = DeployCommand.readPolicy(rollout, this);
      } catch (IllegalArgumentException e) {
        throw badInput(e.getMessage());
      }
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object().put("name", name).put("url", url);
      Optional.ofNullable(branch).ifPresent(b -> body.put("branch", b));
      Optional.ofNullable(path).ifPresent(p -> body.put("path", p));
      Optional.ofNullable(interval).ifPresent(i -> body.put("interval", i));
      Optional.ofNullable(sshKeyText).ifPresent(k -> body.put("sshKey", k));
      token.ifPresent(t -> body.put("token", t));
      Optional.ofNullable(sshHostKey).ifPresent(k -> body.put("sshHostKey", k));
      body.put("target", target.strip());
      Optional.ofNullable(policy).ifPresent(p -> body.put("rollout", p));
      preflight.body(body);
      if (preflight.dryRun) {
        JsonNode checked = api.post(project.path(preflight.path(REPOS)), body);
        print(checked, () -> PreflightOptions.check(checked));
        return;
      }
      JsonNode created = api.post(project.path(REPOS), body);
      String server = api.server().toString();
      print(created, () -> details(created, server, now(), false) + "\n");
      webhookHint(created, server).lines().forEach(this::note);
    }
  }

  @Command(name = "list", description = "List git repositories with their current commit.")
  static final class ListRepos extends TokenCommand {
    @Mixin ProjectOption project;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(project.path(REPOS)).path("items");
      printItems(items, () -> table(items, now()));
    }
  }

  @Command(
      name = "get",
      description = "Show one git repository, its applications, webhook URL and secret.")
  static final class Get extends TokenCommand {
    @Parameters(
        paramLabel = "NAME",
        converter = Converters.SourceName.class,
        description = "Repository name.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode source = api.get(repo(name));
      String server = api.server().toString();
      print(source, () -> details(source, server, now(), true));
    }
  }

  @Command(
      name = "remove",
      description = "Remove a git repository: the controller stops following it.")
  static final class Remove extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Remove repository " + name + "? Its apps leave every device they run on.";
    }

    @Parameters(
        paramLabel = "NAME",
        converter = Converters.SourceName.class,
        description = "Repository name.")
    String name;

    @Override
    void run(ControllerClient api) {
      api.delete(repo(name));
      if (!json()) {
        out().println("removed repository " + name);
      }
    }
  }

  @Command(
      name = "sync",
      description = "Check the branch for a new commit now instead of waiting for the next poll.")
  static final class Sync extends TokenCommand {
    @Parameters(
        paramLabel = "NAME",
        converter = Converters.SourceName.class,
        description = "Repository name.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode answer = api.post(repo(name) + "/sync", object());
      JsonNode source = answer.path("source");
      String server = api.server().toString();
      print(answer, () -> details(source, server, now(), false));
      note(syncSummary(name, answer));
      String error = Formats.text(source, "lastError");
      if (refused(answer)) {
        exitCode = CliException.FAILED;
      } else if (!error.isEmpty()) {
        spec.commandLine().getErr().println("warning: " + error);
      }
    }
  }

  @Command(
      name = "history",
      description = "The commits the controller saw at the head of the branch, newest first.")
  static final class History extends TokenCommand {
    @Parameters(
        paramLabel = "NAME",
        converter = Converters.SourceName.class,
        description = "Repository name.")
    String name;

    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "20",
        converter = Converters.Limit.class,
        description = "How many commits to show (default: ${DEFAULT-VALUE}).")
    int limit = 20;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(repo(name) + "/history?limit=" + limit).path("items");
      printItems(items, () -> history(items, now()));
    }
  }

  @Command(
      name = "diff",
      description =
          "What a commit changed per application: added, changed and removed resources, then the"
              + " diff of each resource's rendered YAML.")
  static final class Diff extends TokenCommand {
    @Parameters(
        index = "0",
        paramLabel = "NAME",
        converter = Converters.SourceName.class,
        description = "Repository name.")
    String name;

    @Parameters(
        index = "1",
        paramLabel = "SHA",
        converter = Converters.Sha.class,
        description = "Commit SHA, as `repos history` shows it.")
    String sha;

    @Override
    void run(ControllerClient api) {
      JsonNode commit = api.get(repo(name) + "/commits/" + ControllerClient.segment(sha));
      print(commit, () -> diff(commit, now()));
    }
  }

  /**
   * The repository token to send: {@code --git-token}, else {@value #GIT_TOKEN_ENV} unless an ssh
   * key is given (a key given on the command line wins over a token in the environment).
   *
   * @throws IllegalArgumentException when both a key and a token flag are given, or the token is
   *     blank
   */
  static Optional<String> gitToken(String flag, boolean sshKey, Map<String, String> env) {
    if (flag != null) {
      if (sshKey) {
        throw new IllegalArgumentException(
            "--ssh-key and --git-token cannot be used together: an ssh URL takes a key, an https"
                + " URL a token");
      }
      if (flag.isBlank()) {
        throw new IllegalArgumentException("--git-token must not be empty");
      }
      return Optional.of(flag.strip());
    }
    String fromEnv = env.get(GIT_TOKEN_ENV);
    if (sshKey || fromEnv == null || fromEnv.isBlank()) {
      return Optional.empty();
    }
    return Optional.of(fromEnv.strip());
  }

  /**
   * The text of an unencrypted private key file.
   *
   * @throws IllegalArgumentException naming the file and what is wrong with it
   */
  static String readSshKey(Path file) {
    String text;
    try {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException("ssh key file " + file + " does not exist");
      }
      if (Files.size(file) > MAX_SSH_KEY_BYTES) {
        throw new IllegalArgumentException(
            "ssh key file " + file + " is too large for a private key");
      }
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read ssh key file " + file + ": " + Formats.problem(e));
    }
    String stripped = text.strip();
    if (stripped.startsWith("ssh-")
        || stripped.startsWith("ecdsa-")
        || stripped.startsWith("sk-")) {
      throw new IllegalArgumentException(
          "ssh key file "
              + file
              + " holds a public key; pass the private key (the file without .pub)");
    }
    if (!stripped.startsWith("-----BEGIN ") || !stripped.contains("PRIVATE KEY-----")) {
      throw new IllegalArgumentException(
          "ssh key file "
              + file
              + " holds no private key: expected OpenSSH or PEM text starting with -----BEGIN …"
              + " PRIVATE KEY-----");
    }
    if (encrypted(stripped)) {
      throw new IllegalArgumentException(
          "ssh key file "
              + file
              + " is protected by a passphrase; the controller needs a key without one (a deploy"
              + " key)");
    }
    return text;
  }

  /** Whether PEM or OpenSSH private key text is protected by a passphrase. */
  static boolean encrypted(String pem) {
    if (pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || pem.contains("Proc-Type: 4,ENCRYPTED")) {
      return true; // PKCS#8 and PKCS#1 (traditional OpenSSL) PEM with a passphrase
    }
    if (!pem.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----")) {
      return false;
    }
    // openssh-key-v1: magic "openssh-key-v1\0", then the cipher name as a length-prefixed string.
    try {
      String body = pem.replaceAll("-----[^-]+-----", "").replaceAll("\\s", "");
      ByteBuffer key = ByteBuffer.wrap(Base64.getDecoder().decode(body));
      byte[] magic = "openssh-key-v1\0".getBytes(StandardCharsets.US_ASCII);
      byte[] start = new byte[magic.length];
      key.get(start);
      int length = key.getInt();
      if (!Arrays.equals(start, magic) || length < 0 || length > key.remaining()) {
        return false;
      }
      byte[] cipher = new byte[length];
      key.get(cipher);
      return !"none".equals(new String(cipher, StandardCharsets.US_ASCII));
    } catch (RuntimeException e) {
      return false; // not decodable here; the controller says what is wrong with it
    }
  }

  static String table(Iterable<JsonNode> sources, Instant now) {
    Table table =
        new Table("name", "url", "branch", "path", "target", "commit", "apps", "polled", "error");
    for (JsonNode s : sources) {
      table.row(
          Formats.text(s, "name"),
          Formats.text(s, "url"),
          branch(s),
          Formats.text(s, "path"),
          target(s),
          Formats.revision(Formats.text(s.path("lastCommit"), "sha")),
          String.valueOf(s.path("apps").size()),
          Formats.relative(s, "lastPolledAt", now),
          firstLine(Formats.text(s, "lastError")));
    }
    return table.render();
  }

  /** One source in detail, with its webhook URL on {@code server} if {@code webhook}. */
  static String details(JsonNode s, String server, Instant now, boolean webhook) {
    JsonNode commit = s.path("lastCommit");
    SequencedMap<String, String> fields = new LinkedHashMap<>();
    fields.put("Name", Formats.text(s, "name"));
    fields.put("URL", Formats.text(s, "url"));
    fields.put("Branch", branch(s));
    fields.put("Path", Formats.text(s, "path"));
    fields.put("Interval", Formats.text(s, "interval"));
    fields.put("Auth", Formats.text(s, "auth"));
    if (!s.path("project").asText("").isEmpty()) {
      fields.put("Project", Formats.text(s, "project") + " (its selector is part of the target)");
    }
    fields.put("Target", target(s));
    fields.put("Commit", Formats.text(commit, "sha"));
    fields.put("Message", firstLine(Formats.text(commit, "message")));
    fields.put("Author", Formats.text(commit, "author"));
    fields.put("Committed", Formats.timestamp(commit, "committedAt", now));
    fields.put("Apps", String.join(",", texts(s.path("apps"))));
    fields.put("Revisions", revisions(s.path("revisions")));
    fields.put("Last poll", Formats.timestamp(s, "lastPolledAt", now));
    fields.put("Last error", Formats.text(s, "lastError"));
    fields.put("SSH host key", Formats.text(s, "sshHostKey"));
    fields.put("Created", Formats.timestamp(s, "createdAt", now));
    if (webhook) {
      fields.put("Webhook URL", webhookUrl(s, server));
      fields.put("Webhook secret", Formats.text(s, "webhookSecret"));
    }
    return Table.fields(fields);
  }

  /** How to point GitHub or GitLab at the source's webhook, so pushes deploy right away. */
  static String webhookHint(JsonNode s, String server) {
    String interval = Formats.text(s, "interval");
    return String.join(
        "\n",
        "Webhook: a push then deploys at once instead of at the next poll"
            + (interval.isEmpty() ? "" : " (every " + interval + ")")
            + ":",
        "  Payload URL:   " + webhookUrl(s, server),
        "  Content type:  application/json",
        "  Secret:        " + Formats.text(s, "webhookSecret"),
        "  GitHub: Settings > Webhooks > Add webhook with the values above, \"Just the push"
            + " event\".",
        "  GitLab: Settings > Webhooks, URL and Secret token as above, trigger \"Push events\".",
        "  The git server must be able to reach the controller at that URL.",
        "");
  }

  /**
   * What a sync found, as one line: the new commit applied, the newest commit refused with the
   * reason and the commit that stays in effect, or that nothing new came.
   */
  static String syncSummary(String name, JsonNode answer) {
    JsonNode head = answer.path("source").path("lastCommit");
    String at = Formats.revision(Formats.text(head, "sha"));
    JsonNode newest = answer.path("newest");
    String sha = Formats.revision(Formats.text(newest, "sha"));
    if (refused(answer)) {
      // The controller's reason names the commit, what stays in effect, and the app and file.
      String error = firstLine(Formats.text(newest, "error"));
      return "synced "
          + name
          + ": "
          + (error.isEmpty() ? "newest commit " + sha + " was refused" : error);
    }
    String partly = firstLine(Formats.text(newest, "error"));
    if (!partly.isEmpty()) {
      // Applied without some apps: which, and why.
      return "synced " + name + ": " + partly;
    }
    if (answer.path("changed").asBoolean()) {
      return "synced "
          + name
          + ": new commit "
          + at
          + " applied: "
          + abbreviate(firstLine(Formats.text(head, "message")), MAX_MESSAGE);
    }
    return "synced " + name + ": no new commit" + (at.isEmpty() ? "" : " (at " + at + ")");
  }

  /** Whether the newest commit a sync answer names was refused, as a whole or for some apps. */
  static boolean refused(JsonNode answer) {
    JsonNode newest = answer.path("newest");
    if ("FAILED".equals(Formats.text(newest, "status"))) {
      return true;
    }
    for (JsonNode a : newest.path("apps")) {
      if ("REFUSED".equals(Formats.text(a, "change"))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The recorded commits: where each stands now, and how many devices should run what it brought
   * (rendered), run it (delivered), report it ready, or failed it.
   */
  static String history(Iterable<JsonNode> commits, Instant now) {
    Table table =
        new Table(
            "sha",
            "status",
            "rendered",
            "delivered",
            "ready",
            "failed",
            "committed",
            "apps",
            "message",
            "error");
    for (JsonNode c : commits) {
      JsonNode d = c.path("devices");
      table.row(
          Formats.revision(Formats.text(c, "sha")),
          status(c),
          Formats.text(d, "rendered"),
          Formats.text(d, "delivered"),
          Formats.text(d, "ready"),
          Formats.text(d, "failed"),
          Formats.relative(c, "committedAt", now),
          appChanges(c),
          firstLine(Formats.text(c, "message")),
          firstLine(Formats.text(c, "error")));
    }
    return table.render();
  }

  /** Where a commit stands ({@code state}); what was recorded for controllers that do not say. */
  static String status(JsonNode commit) {
    String state = Formats.text(commit, "state");
    return state.isEmpty() ? Formats.text(commit, "status") : state;
  }

  /** A commit with, per application, its added, changed and removed resources. */
  static String diff(JsonNode c, Instant now) {
    SequencedMap<String, String> fields = new LinkedHashMap<>();
    fields.put("Repository", Formats.text(c, "source"));
    fields.put("Commit", Formats.text(c, "sha"));
    fields.put("Author", Formats.text(c, "author"));
    fields.put("Committed", Formats.timestamp(c, "committedAt", now));
    fields.put("Recorded", Formats.timestamp(c, "recordedAt", now));
    fields.put("Status", status(c));
    JsonNode d = c.path("devices");
    if (d.isObject()) {
      fields.put(
          "Devices",
          Formats.text(d, "rendered")
              + " rendered, "
              + Formats.text(d, "delivered")
              + " delivered, "
              + Formats.text(d, "ready")
              + " ready, "
              + Formats.text(d, "failed")
              + " failed");
    }
    fields.put("Error", Formats.text(c, "error"));
    fields.put("Message", firstLine(Formats.text(c, "message")));
    fields.put("Apps", appChanges(c));
    StringBuilder out = new StringBuilder(Table.fields(fields)).append('\n');
    if (c.path("apps").isEmpty()) {
      out.append(
          "FAILED".equals(Formats.text(c, "status"))
              ? "no application changed: the commit was refused\n"
              : "no application changed\n");
      return out.toString();
    }
    Table table = new Table("app", "change", "resource");
    for (JsonNode a : c.path("apps")) {
      String app = Formats.text(a, "app");
      if ("REFUSED".equals(Formats.text(a, "change"))) {
        table.row(app, "refused", firstLine(Formats.text(a, "error")));
        continue;
      }
      int rows = 0;
      for (String change : List.of("added", "changed", "removed")) {
        for (String resource : texts(a.path(change))) {
          table.row(app, change, resource(resource));
          rows++;
        }
      }
      if (rows == 0) {
        table.row(app, lower(Formats.text(a, "change")), "");
      }
    }
    out.append(table.render());
    // Then what changed in each resource, as the controller rendered it (bounded by it).
    for (JsonNode a : c.path("apps")) {
      String patch = Formats.text(a, "diff");
      if (!patch.isEmpty()) {
        out.append('\n').append(Formats.text(a, "app")).append(":\n").append(patch);
        if (!patch.endsWith("\n")) {
          out.append('\n');
        }
      }
    }
    return out.toString();
  }

  /**
   * {@code shop changed (sha256:1a2b3c4d5e6f), kiosk removed}: how each application changed in a
   * commit, with the revision it has after it.
   */
  static String appChanges(JsonNode commit) {
    List<String> apps = new ArrayList<>();
    commit
        .path("apps")
        .forEach(
            a -> {
              String revision = Formats.text(a, "revision");
              apps.add(
                  Formats.text(a, "app")
                      + " "
                      + lower(Formats.text(a, "change"))
                      + (revision.isEmpty() ? "" : " (" + Formats.revision(revision) + ")"));
            });
    return String.join(", ", apps);
  }

  /**
   * {@code kiosk sha256:1a2b3c4d5e6f from 0123456789ab, web …}: each application at the commit in
   * effect, with the commit that brought it to its revision.
   */
  static String revisions(JsonNode revisions) {
    List<String> apps = new ArrayList<>();
    revisions.forEach(
        r -> {
          String revision = Formats.text(r, "revision");
          String error = firstLine(Formats.text(r, "error"));
          apps.add(
              Formats.text(r, "app")
                  + (revision.isEmpty()
                      ? " not deployed"
                      : " "
                          + Formats.revision(revision)
                          + " from "
                          + Formats.revision(Formats.text(r, "commit")))
                  + (error.isEmpty() ? "" : " (new content refused: " + error + ")"));
        });
    return String.join(", ", apps);
  }

  /**
   * {@code Kind/namespace/name} (or {@code Kind/name} for cluster-scoped resources) from the
   * controller's {@code apiVersion Kind namespace/name}; anything else is shown as it is.
   */
  static String resource(String identity) {
    String[] parts = identity.strip().split(" ");
    return parts.length == 3 ? parts[1] + "/" + parts[2] : identity;
  }

  static String firstLine(String text) {
    int nl = text.indexOf('\n');
    return (nl < 0 ? text : text.substring(0, nl)).strip();
  }

  static String abbreviate(String text, int max) {
    return text.length() > max ? text.substring(0, max - 1) + "…" : text;
  }

  private static String webhookUrl(JsonNode s, String server) {
    String path = Formats.text(s, "webhookUrlPath");
    if (path.isEmpty()) {
      path = HOOKS + ControllerClient.segment(Formats.text(s, "name"));
    }
    return server + path;
  }

  /** The followed branch, or that the remote's default branch is not known yet. */
  private static String branch(JsonNode s) {
    String branch = Formats.text(s, "branch");
    return branch.isEmpty() && s.has("name") ? "(remote default)" : branch;
  }

  private static String target(JsonNode s) {
    String target = Formats.text(s, "target");
    return target.isBlank() && s.has("target") ? "(all devices)" : target;
  }

  private static String lower(String text) {
    return text.toLowerCase(Locale.ROOT);
  }

  private static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(t -> texts.add(t.asText()));
    return texts;
  }

  private static String repo(String name) {
    return REPOS + "/" + ControllerClient.segment(name);
  }
}
