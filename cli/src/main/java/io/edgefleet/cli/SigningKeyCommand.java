package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet signing-key …}: the keys that sign desired state, and their rotation. */
@Command(
    name = "signing-key",
    description = {
      "List and rotate the keys that sign desired state.",
      "A rotation: 'rotate' creates the next key, which devices learn from documents signed with"
          + " the key they trust; 'rotate --finish' makes it sign, while the old key goes on"
          + " signing for devices that have not learned it yet; 'retire' deletes the old key once"
          + " none depends on it."
    },
    subcommands = {
      SigningKeyCommand.ListKeys.class,
      SigningKeyCommand.Rotate.class,
      SigningKeyCommand.Retire.class
    })
final class SigningKeyCommand {
  static final String KEYS = "/api/v1/signing-keys";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "list",
      description = {
        "Every key, newest first, with the active devices it signs for, that trust it, and that"
            + " depend on it (trust it but not the current key)."
      })
  static final class ListKeys extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(KEYS).path("items");
      printItems(items, () -> table(items, now()));
    }
  }

  @Command(
      name = "rotate",
      description = {
        "Start a rotation: create the next key and announce it to every device.",
        "With --finish: make the next key the one that signs."
      })
  static final class Rotate extends TokenCommand {
    @Option(
        names = "--finish",
        description =
            "Make the next key current. Devices that have not reported trusting it keep getting"
                + " documents signed with the old key until they do.")
    boolean finish;

    @Override
    void run(ControllerClient api) {
      JsonNode key = api.post(KEYS + "/rotate", object().put("finish", finish));
      print(
          key,
          () ->
              details(key, now())
                  + "\n"
                  + (finish
                      ? "The new key signs now. Once no device depends on the old one (see"
                          + " 'edgefleet signing-key list'), retire it:\n"
                          + "  edgefleet signing-key retire <id>\n"
                      : "Devices learn this key with their next document. When the DEVICES"
                          + " TRUSTING column of 'edgefleet signing-key list' covers the fleet,"
                          + " switch to it:\n"
                          + "  edgefleet signing-key rotate --finish\n"));
    }
  }

  @Command(
      name = "retire",
      description = {
        "Retire a previous key (or the next key, abandoning a rotation); its private key is"
            + " deleted.",
        "Refused while devices depend on it, unless --force."
      })
  static final class Retire extends TokenCommand {
    @Parameters(paramLabel = "ID", description = "Key id, from 'edgefleet signing-key list'.")
    String id;

    @Option(
        names = "--force",
        description =
            "Retire even if devices depend on the key: they then refuse every new desired state"
                + " until they are enrolled again.")
    boolean force;

    @Override
    void run(ControllerClient api) {
      JsonNode key =
          api.post(
              KEYS + "/" + ControllerClient.segment(id) + "/retire", object().put("force", force));
      print(key, () -> details(key, now()));
    }
  }

  static String table(JsonNode items, Instant now) {
    Table t =
        new Table(
            "id",
            "state",
            "created",
            "activated",
            "devices signed",
            "devices trusting",
            "devices dependent",
            "fingerprint");
    for (JsonNode k : items) {
      t.row(
          Formats.text(k, "id"),
          Formats.text(k, "state"),
          Formats.relative(k, "createdAt", now),
          Formats.relative(k, "activatedAt", now),
          Formats.text(k, "devicesSigned"),
          Formats.text(k, "devicesTrusting"),
          Formats.text(k, "devicesDependent"),
          Formats.text(k, "fingerprint"));
    }
    return t.render();
  }

  static String details(JsonNode k, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Id", Formats.text(k, "id"));
    f.put("State", Formats.text(k, "state"));
    f.put("Fingerprint", Formats.text(k, "fingerprint"));
    f.put("Created", Formats.timestamp(k, "createdAt", now));
    f.put("Activated", Formats.timestamp(k, "activatedAt", now));
    f.put("Retired", Formats.timestamp(k, "retiredAt", now));
    f.put(
        "Devices",
        Formats.text(k, "devicesSigned")
            + " signed, "
            + Formats.text(k, "devicesTrusting")
            + " trusting, "
            + Formats.text(k, "devicesDependent")
            + " dependent");
    return Table.fields(f);
  }
}
