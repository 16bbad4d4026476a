package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet onboarding …}: onboarding tokens and the bootstrap files that carry them. */
@Command(
    name = "onboarding",
    description = "Create, list and revoke onboarding tokens; write bootstrap files for agents.",
    subcommands = {
      OnboardingCommand.Create.class,
      OnboardingCommand.ListTokens.class,
      OnboardingCommand.Revoke.class,
      OnboardingCommand.WriteBootstrap.class
    })
final class OnboardingCommand {
  static final String TOKENS = "/api/v1/onboarding-tokens";
  static final String BOOTSTRAP = TOKENS + "/bootstrap";
  static final String DEFAULT_BOOTSTRAP_FILE = "edgefleet-bootstrap.json";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "create",
      description = {
        "Create an onboarding token. Devices that enroll with it get its tags.",
        "The token is shown only once."
      })
  static final class Create extends TokenCommand {
    @Option(names = "--name", paramLabel = "NAME", description = "A name for people.")
    String name;

    @Option(
        names = "--tag",
        paramLabel = "KEY=VALUE",
        converter = Converters.Tag.class,
        description = "Tag for devices enrolled with this token; repeatable.")
    List<Tags.Tag> tags = new ArrayList<>();

    @Option(
        names = "--uses",
        paramLabel = "N",
        converter = Converters.PositiveInt.class,
        description = "How many devices may enroll with it (default: unlimited).")
    Integer uses;

    @Option(
        names = "--expires",
        paramLabel = "DURATION",
        converter = Converters.ExpiryText.class,
        description =
            "Lifetime such as 90s, 30m, 12h or 30d, or 'never' (default: 7d, so a leaked"
                + " bootstrap file stops working).")
    String expires;

    @Option(
        names = "--per-minute",
        paramLabel = "N",
        converter = Converters.PositiveInt.class,
        description =
            "How many new devices may enroll with it per minute, and at once (default: 60).")
    Integer perMinute;

    @Option(
        names = "--require-approval",
        description = "Devices enrolled with it wait for `edgefleet devices approve`.")
    boolean requireApproval;

    @Option(
        names = "--require-tpm",
        description =
            "Only devices whose key lives in a TPM 2.0 may enroll with it (the controller needs"
                + " --tpm-ca); a software key is refused with TPM_REQUIRED.")
    boolean requireTpm;

    @Option(
        names = "--bootstrap-out",
        paramLabel = "FILE",
        description = "Also write the agent's bootstrap file (mode 0600).")
    Path bootstrapOut;

    private Map<String, String> tagMap = Map.of();

    @Override
    void validate() {
      tagMap = tagMap(tags);
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      Optional.ofNullable(name).ifPresent(n -> body.put("name", n));
      tagMap.forEach(body.putObject("tags")::put);
      Optional.ofNullable(uses).ifPresent(n -> body.put("maxUses", n));
      Optional.ofNullable(expires).ifPresent(d -> body.put("expiresIn", d));
      Optional.ofNullable(perMinute).ifPresent(n -> body.put("perMinute", n));
      body.put("requireApproval", requireApproval);
      if (requireTpm) {
        body.put("requireTpm", true);
      }
      JsonNode created = api.post(TOKENS, body);
      String token = Formats.text(created, "token");
      print(created, () -> details(created, now()));
      note(limits(created, now()));
      if (bootstrapOut != null) {
        writeBootstrap(this, api, token, bootstrapOut);
      } else {
        note("write a bootstrap file: edgefleet onboarding bootstrap --token " + token);
      }
    }

    /** What the token allows, said once at creation so nobody is surprised by a default. */
    static String limits(JsonNode t, Instant now) {
      String expiry =
          t.path("expiresAt").isTextual()
              ? "it expires " + expiry(t, now) + " (--expires to change, 'never' for none)"
              : "it never expires";
      String uses =
          t.path("maxUses").isNumber()
              ? "at most " + t.path("maxUses").asInt() + " devices"
              : "any number of devices (--uses N to cap)";
      String approval =
          t.path("requireApproval").asBoolean()
              ? "each waits for `edgefleet devices approve`"
              : "they are approved automatically (--require-approval to review each)";
      if (t.path("requireTpm").asBoolean()) {
        approval += "; only devices with a TPM";
      }
      return expiry
          + "; "
          + uses
          + ", at most "
          + t.path("perMinute").asInt(60)
          + " a minute, may enroll with it; "
          + approval;
    }

    static String details(JsonNode t, Instant now) {
      SequencedMap<String, String> fields = new LinkedHashMap<>();
      fields.put("ID", Formats.text(t, "id"));
      fields.put("Name", Formats.text(t, "name"));
      fields.put("Token", Formats.text(t, "token") + "   (shown only now)");
      fields.put("Tags", Tags.format(t.path("tags")));
      fields.put("Uses", uses(t));
      fields.put("Expires", expiry(t, now));
      fields.put("Approval", approval(t));
      return Table.fields(fields);
    }
  }

  @Command(name = "list", description = "List onboarding tokens (without their secret).")
  static final class ListTokens extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(TOKENS).path("items");
      printItems(items, () -> table(items, now()));
    }

    static String table(JsonNode items, Instant now) {
      Table table = new Table("id", "name", "tags", "uses", "expires", "approval", "state");
      for (JsonNode t : items) {
        table.row(
            Formats.text(t, "id"),
            Formats.text(t, "name"),
            Tags.format(t.path("tags")),
            uses(t),
            expiry(t, now),
            approval(t),
            state(t, now));
      }
      return table.render();
    }
  }

  @Command(
      name = "revoke",
      description = "Revoke an onboarding token; devices enrolled with it stay enrolled.")
  static final class Revoke extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Revoke onboarding token " + id + "? Devices can no longer enroll with it.";
    }

    @Parameters(
        paramLabel = "ID",
        converter = Converters.Id.class,
        description = "Token id, as `onboarding list` shows it.")
    String id;

    @Override
    void run(ControllerClient api) {
      api.delete(TOKENS + "/" + ControllerClient.segment(id));
      if (!json()) {
        out().println("revoked onboarding token " + id);
      }
    }
  }

  @Command(
      name = "bootstrap",
      description = {
        "Write the bootstrap file an agent needs to enroll with an onboarding token:",
        "the controller URL, the CA fingerprint to pin, and the token."
      })
  static final class WriteBootstrap extends ApiCommand {
    @Option(
        names = "--token",
        required = true,
        paramLabel = "ONBOARDING_TOKEN",
        description = "The onboarding token, as `onboarding create` printed it.")
    String onboardingToken;

    @Option(
        names = "--api-token",
        paramLabel = "TOKEN",
        description = "API token of the controller (env EDGEFLEET_TOKEN).")
    String apiToken;

    @Option(
        names = "--out",
        paramLabel = "FILE",
        defaultValue = DEFAULT_BOOTSTRAP_FILE,
        description = "Where to write it, mode 0600 (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    Optional<String> tokenOption() {
      return Optional.ofNullable(apiToken);
    }

    @Override
    void validate() {
      if (onboardingToken.isBlank()) {
        throw badInput("--token must not be empty");
      }
    }

    @Override
    void run(ControllerClient api) {
      JsonNode document = writeBootstrap(this, api, onboardingToken.strip(), out);
      if (json()) {
        print(document, () -> "");
      }
    }
  }

  /** Fetches the bootstrap document for the token, validates it, and writes it as a 0600 file. */
  static JsonNode writeBootstrap(
      ApiCommand command, ControllerClient api, String token, Path file) {
    JsonNode document = api.post(BOOTSTRAP, ApiCommand.object().put("token", token));
    validBootstrap(document);
    try {
      SecureFiles.writeSecret(file, Json.pretty(document) + "\n");
    } catch (UncheckedIOException e) {
      throw CliException.failed(e.getMessage() + ": " + e.getCause());
    }
    command.note("wrote " + file + "; start the agent: edgefleet agent --bootstrap " + file);
    return document;
  }

  /**
   * The document as the agent will read it; a document the agent would refuse is never written.
   *
   * @throws CliException (exit 1) saying what is wrong with it
   */
  static Bootstrap validBootstrap(JsonNode document) {
    Bootstrap bootstrap;
    try {
      bootstrap = Json.mapper().treeToValue(document, Bootstrap.class);
    } catch (IOException | IllegalArgumentException e) {
      throw CliException.failed(
          "the controller answered an invalid bootstrap document: " + rootMessage(e));
    }
    if (bootstrap == null) {
      throw CliException.failed("the controller answered an empty bootstrap document");
    }
    return bootstrap;
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    return root.getMessage();
  }

  private static String uses(JsonNode t) {
    String max = Formats.text(t, "maxUses");
    String used = Formats.text(t, "uses");
    return max.isEmpty() ? used : used + "/" + max;
  }

  private static String expiry(JsonNode t, Instant now) {
    return t.path("expiresAt").isTextual() ? Formats.relative(t, "expiresAt", now) : "never";
  }

  private static String approval(JsonNode t) {
    return t.path("requireApproval").asBoolean() ? "required" : "automatic";
  }

  private static String state(JsonNode t, Instant now) {
    if (t.path("revoked").asBoolean()) {
      return "revoked";
    }
    if (Formats.instant(t, "expiresAt").filter(at -> !at.isAfter(now)).isPresent()) {
      return "expired";
    }
    if (t.path("maxUses").isNumber() && t.path("uses").asInt() >= t.path("maxUses").asInt()) {
      return "used up";
    }
    return "active";
  }
}
