package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet devices attestation …}: a TPM device's measured boot against its reference. */
@Command(
    name = "attestation",
    description =
        "A TPM device's measured boot against its reference: show the difference, accept it,"
            + " pin it as the reference of a hardware model or tag.",
    subcommands = {
      AttestationCommand.Show.class,
      AttestationCommand.Accept.class,
      AttestationCommand.Pin.class,
      AttestationCommand.References.class,
      AttestationCommand.Unpin.class
    })
final class AttestationCommand {
  static final String REFERENCES = "/api/v1/attestation/references";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "show",
      description =
          "Show a device's identity, trust, and its PCRs and boot events against its reference.")
  static final class Show extends TokenCommand {
    @Parameters(paramLabel = "ID", converter = Converters.Id.class, description = "Device id.")
    String id;

    @Override
    void run(ControllerClient api) {
      JsonNode a = api.get(path(id));
      print(a, () -> render(a, now()));
    }
  }

  @Command(
      name = "accept",
      description =
          "Adopt a device's current measurements as its reference (audited): a quarantined device"
              + " becomes TRUSTED and gets what was held back.")
  static final class Accept extends TokenCommand {
    @Parameters(paramLabel = "ID", converter = Converters.Id.class, description = "Device id.")
    String id;

    @Override
    void run(ControllerClient api) {
      JsonNode a = api.post(path(id) + "/accept", object());
      print(a, () -> render(a, now()));
    }
  }

  @Command(
      name = "pin",
      description =
          "Pin a device's measurements as the reference of every device of its hardware model"
              + " (--model) or with its value of a tag (--tag KEY).")
  static final class Pin extends TokenCommand {
    @Parameters(paramLabel = "ID", converter = Converters.Id.class, description = "Device id.")
    String id;

    @ArgGroup(multiplicity = "1")
    Match match;

    static final class Match {
      @Option(names = "--model", description = "For the device's hardware model.")
      boolean model;

      @Option(names = "--tag", paramLabel = "KEY", description = "For its value of this tag.")
      String tag;
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      if (match.tag != null) {
        body.put("tag", match.tag);
      } else {
        body.put("model", true);
      }
      JsonNode pin = api.post(path(id) + "/pin", body);
      print(pin, () -> references(List.of(pin), now()));
    }
  }

  @Command(name = "references", description = "List the pinned references.")
  static final class References extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(REFERENCES).path("items");
      printItems(items, () -> references(items, now()));
    }
  }

  @Command(name = "unpin", description = "Remove a pinned reference.")
  static final class Unpin extends TokenCommand {
    @Parameters(paramLabel = "PIN", converter = Converters.Id.class, description = "Pin id.")
    String pin;

    @Override
    void run(ControllerClient api) {
      api.delete(REFERENCES + "/" + ControllerClient.segment(pin));
      note("removed " + pin);
    }
  }

  private static String path(String id) {
    return DevicesCommand.DEVICES + "/" + ControllerClient.segment(id) + "/attestation";
  }

  /** The device's trust, its PCRs against the reference, and the boot events that differ. */
  static String render(JsonNode a, Instant now) {
    SequencedMap<String, String> fields = new LinkedHashMap<>();
    fields.put("Device", Formats.text(a, "deviceId"));
    fields.put("Identity", Formats.text(a, "identity"));
    fields.put("Trust", Formats.text(a, "state"));
    fields.put("Reason", Formats.text(a, "reason"));
    fields.put("Since", Formats.timestamp(a, "since", now));
    fields.put("EK issuer", Formats.text(a, "ekIssuer"));
    fields.put("AK name", Formats.text(a, "akName"));
    fields.put("Last attested", Formats.timestamp(a, "lastAttested", now));
    fields.put("Reference", Formats.text(a, "referenceOrigin"));
    fields.put("Reference from", Formats.timestamp(a, "referenceAt", now));
    StringBuilder out = new StringBuilder(Table.fields(fields));
    if (a.path("pcrs").size() > 0) {
      Table pcrs = new Table("pcr", "match", "reference", "current");
      for (JsonNode p : a.path("pcrs")) {
        boolean differs = p.path("differs").asBoolean();
        pcrs.row(
            Formats.text(p, "index"),
            differs ? "DIFFERS" : "same",
            Formats.text(p, "reference"),
            differs ? Formats.text(p, "current") : "");
      }
      out.append('\n').append(pcrs.render());
    }
    if (a.path("events").size() > 0) {
      Table events = new Table("pcr", "event", "change", "type", "reference", "current");
      for (JsonNode e : a.path("events")) {
        JsonNode now0 = e.path("current");
        JsonNode ref = e.path("reference");
        events.row(
            Formats.text(e, "pcr"),
            Formats.text(e, "index"),
            Formats.text(e, "change"),
            Formats.text(now0.isMissingNode() || now0.isNull() ? ref : now0, "type"),
            describe(ref),
            describe(now0));
      }
      out.append('\n').append(events.render());
    }
    return out.toString();
  }

  private static String describe(JsonNode e) {
    if (e == null || e.isMissingNode() || e.isNull()) {
      return "";
    }
    String d = Formats.text(e, "description");
    String digest = Formats.text(e, "sha256");
    return (d.isEmpty() ? "" : d + " ")
        + (digest.length() > 12 ? digest.substring(0, 12) + "…" : digest);
  }

  static String references(Iterable<JsonNode> pins, Instant now) {
    Table table = new Table("id", "scope", "match", "pcrs", "from device", "by", "created");
    for (JsonNode p : pins) {
      String match =
          "model".equals(p.path("scope").asText())
              ? Formats.text(p, "key")
              : Formats.text(p, "key") + "=" + Formats.text(p, "value");
      table.row(
          Formats.text(p, "id"),
          Formats.text(p, "scope"),
          match,
          String.valueOf(p.path("pcrs").size()),
          Formats.text(p, "sourceDevice"),
          Formats.text(p, "createdBy"),
          Formats.relative(p, "createdAt", now));
    }
    return table.render();
  }
}
