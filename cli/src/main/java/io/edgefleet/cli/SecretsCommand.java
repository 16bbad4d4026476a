package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet secrets …}: secrets for devices, sealed to each device's key on delivery. */
@Command(
    name = "secrets",
    description = {
      "Create, update, list and delete secrets for devices, and rotate the master key.",
      "Each device a secret's target selects gets it as a Kubernetes Secret (type Opaque) in the"
          + " secret's namespace. Values are never shown again: listings give keys and versions."
    },
    subcommands = {
      SecretsCommand.Create.class,
      SecretsCommand.Update.class,
      SecretsCommand.ListSecrets.class,
      SecretsCommand.Delete.class,
      SecretsCommand.RotateKey.class
    })
final class SecretsCommand {
  static final String SECRETS = "/api/v1/secrets";

  /** Most bytes read from one --from-file: a secret holds at most 64 KiB. */
  static final long MAX_FILE_BYTES = 64 * 1024;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  /** The values and where they go, as create and update take them. */
  abstract static class Values extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Secret name (a Kubernetes Secret name).")
    String name;

    @Option(
        names = "--from-literal",
        paramLabel = "KEY=VALUE",
        description = "A key and its value as text; repeatable.")
    List<String> literals = new ArrayList<>();

    @Option(
        names = "--from-file",
        paramLabel = "KEY=PATH",
        description = "A key and the file whose bytes are its value; repeatable.")
    List<String> files = new ArrayList<>();

    @Option(
        names = "--target",
        paramLabel = "SELECTOR",
        description =
            "Devices that get the secret, as a tag selector (site=s1,env in (prod)); '*' for"
                + " every device.")
    String target;

    @Option(
        names = "--namespace",
        paramLabel = "NS",
        description = "Kubernetes namespace on the devices (default: default).")
    String namespace;

    @Override
    void validate() {
      if (literals.isEmpty() && files.isEmpty()) {
        throw badInput(
            "give the secret's values with --from-literal KEY=VALUE or --from-file" + " KEY=PATH");
      }
    }

    /** The request body: text values as stringData, file contents as base64 data. */
    ObjectNode body() {
      ObjectNode body = object();
      ObjectNode text = body.putObject("stringData");
      ObjectNode data = body.putObject("data");
      for (String l : literals) {
        String[] kv = pair(l, "--from-literal", "KEY=VALUE");
        text.put(kv[0], kv[1]);
      }
      for (String f : files) {
        String[] kv = pair(f, "--from-file", "KEY=PATH");
        data.put(kv[0], Base64.getEncoder().encodeToString(read(Path.of(kv[1]))));
      }
      if (target != null) {
        body.put("target", target);
      }
      if (namespace != null) {
        body.put("namespace", namespace);
      }
      return body;
    }

    private String[] pair(String s, String option, String form) {
      int eq = s.indexOf('=');
      if (eq <= 0) {
        throw badInput(option + " takes " + form + ", got '" + s + "'");
      }
      return new String[] {s.substring(0, eq), s.substring(eq + 1)};
    }

    private byte[] read(Path file) {
      try {
        if (Files.size(file) > MAX_FILE_BYTES) {
          throw badInput(
              file + " has more than " + MAX_FILE_BYTES + " bytes, more than a secret holds");
        }
        return Files.readAllBytes(file);
      } catch (IOException e) {
        throw badInput("cannot read " + file + ": " + e.getMessage());
      }
    }
  }

  @Command(
      name = "create",
      description = {
        "Create a secret: version 1, sent to every device --target selects.",
        "Example: edgefleet secrets create db --from-literal password=s3cret --from-file"
            + " tls.crt=./db.crt --target site=s1 --namespace shop"
      })
  static final class Create extends Values {
    @Override
    void run(ControllerClient api) {
      ObjectNode body = body();
      body.put("name", name);
      JsonNode s = api.post(SECRETS, body);
      print(s, () -> details(s, now()));
    }
  }

  @Command(
      name = "update",
      description = {
        "Replace a secret's values: a new version, which every targeted device fetches.",
        "--target and --namespace change where it goes; without them it stays where it is."
      })
  static final class Update extends Values {
    @Override
    void run(ControllerClient api) {
      JsonNode s = api.put(SECRETS + "/" + ControllerClient.segment(name), body());
      print(s, () -> details(s, now()));
    }
  }

  @Command(
      name = "list",
      description = "Every secret: namespace, version, keys, target and devices it matches.")
  static final class ListSecrets extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(SECRETS).path("items");
      printItems(items, () -> table(items, now()));
    }
  }

  @Command(
      name = "delete",
      description =
          "Delete a secret: devices remove their Kubernetes Secret with their next desired state.")
  static final class Delete extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Parameters(paramLabel = "NAME", description = "Secret name.")
    String name;

    @Override
    public String question() {
      return "Delete secret " + name + "? Every device removes it.";
    }

    @Override
    void run(ControllerClient api) {
      api.delete(SECRETS + "/" + ControllerClient.segment(name));
      if (!json()) {
        out().println("deleted secret " + name);
      }
    }
  }

  @Command(
      name = "rotate-key",
      description = {
        "Rotate the master key: every secret's data key is wrapped by a new master key, values"
            + " unchanged; the old key is dropped once nothing uses it.",
        "Back up the controller's secrets/master.keys afterwards."
      })
  static final class RotateKey extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode r = api.post(SECRETS + "/master-key/rotate", object());
      print(
          r,
          () ->
              "master key "
                  + Formats.text(r, "keyId")
                  + " wraps "
                  + Formats.text(r, "rewrapped")
                  + " re-wrapped data key(s); retired: "
                  + (r.path("retired").isEmpty() ? "none" : joined(r.path("retired")))
                  + "\n");
    }
  }

  private static String joined(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return String.join(", ", out);
  }

  static String table(JsonNode items, Instant now) {
    Table t = new Table("name", "namespace", "version", "keys", "target", "devices", "updated");
    for (JsonNode s : items) {
      t.row(
          Formats.text(s, "name"),
          Formats.text(s, "namespace"),
          Formats.text(s, "version"),
          joined(s.path("keys")),
          Formats.text(s, "target"),
          Formats.text(s, "matchedDevices"),
          Formats.relative(s, "updatedAt", now));
    }
    return t.render();
  }

  static String details(JsonNode s, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Name", Formats.text(s, "name"));
    f.put("Namespace", Formats.text(s, "namespace"));
    f.put("Version", Formats.text(s, "version"));
    f.put("Keys", joined(s.path("keys")));
    f.put("Size", Formats.text(s, "size") + " bytes");
    f.put("Target", Formats.text(s, "target"));
    f.put("Devices", Formats.text(s, "matchedDevices"));
    f.put(
        "Updated", Formats.timestamp(s, "updatedAt", now) + " by " + Formats.text(s, "updatedBy"));
    return Table.fields(f);
  }
}
