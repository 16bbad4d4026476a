package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet artifacts …}: binaries devices fetch from the controller (K3s). */
@Command(
    name = "artifacts",
    description = {
      "Push, list and delete the artifacts devices fetch from the controller: the K3s binaries"
          + " cluster members run, so that sites without internet access need nothing else.",
      "Example: edgefleet artifacts push ./k3s --kind k3s --version v1.20.2+k3s1 --arch amd64"
    },
    subcommands = {
      ArtifactsCommand.Push.class,
      ArtifactsCommand.ListArtifacts.class,
      ArtifactsCommand.Delete.class
    })
final class ArtifactsCommand {
  static final String ARTIFACTS = "/api/v1/artifacts";

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @Command(
      name = "push",
      description = {
        "Upload a file as an artifact. Its SHA-256 digest is computed here and checked by the"
            + " controller, so a damaged upload is refused.",
        "Example: edgefleet artifacts push ./k3s --kind k3s --version v1.20.2+k3s1"
      })
  static final class Push extends TokenCommand {
    @Parameters(paramLabel = "FILE", description = "The file to upload.")
    Path file;

    @Option(
        names = "--kind",
        required = true,
        paramLabel = "KIND",
        description = "What the file is: k3s for a K3s binary.")
    String kind;

    @Option(
        names = "--version",
        required = true,
        paramLabel = "VERSION",
        description = "The version it is, as K3s prints it (e.g. v1.20.2+k3s1).")
    String version;

    @Option(
        names = "--arch",
        paramLabel = "ARCH",
        description = "The CPU architecture it runs on (default: amd64).")
    String arch = "amd64";

    @Override
    void validate() {
      if (!Files.isRegularFile(file)) {
        throw badInput(file + " is not a file; give the path of the binary to push");
      }
    }

    @Override
    void run(ControllerClient api) {
      String digest = digest(file);
      String path =
          ARTIFACTS
              + "?kind="
              + ControllerClient.segment(kind)
              + "&version="
              + ControllerClient.segment(version)
              + "&arch="
              + ControllerClient.segment(arch)
              + "&name="
              + ControllerClient.segment(name(file));
      JsonNode a = api.upload(path, file, Map.of("X-Edgefleet-Digest", digest));
      print(a, () -> details(a, now()));
    }

    private static String name(Path file) {
      String n = file.getFileName().toString().replaceAll("[^A-Za-z0-9._+-]", "-");
      return n.isEmpty() || !Character.isLetterOrDigit(n.charAt(0)) ? "artifact" : n;
    }
  }

  @Command(name = "list", description = "Every artifact: kind, version, architecture, size.")
  static final class ListArtifacts extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(ARTIFACTS).path("items");
      printItems(items, () -> table(items, now()));
    }
  }

  @Command(
      name = "delete",
      description = "Delete an artifact; refused while a cluster runs that K3s version.")
  static final class Delete extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Parameters(paramLabel = "DIGEST", description = "The artifact's digest (sha256:...).")
    String digest;

    @Override
    void validate() {
      if (!digest.matches("sha256:[0-9a-f]{64}")) {
        throw badInput(
            "'"
                + digest
                + "' is not a digest: give sha256:<64 hex digits> as 'edgefleet artifacts list"
                + " -o json' shows it");
      }
    }

    @Override
    public String question() {
      return "Delete artifact " + digest + "? Devices can no longer fetch it.";
    }

    @Override
    void run(ControllerClient api) {
      api.delete(ARTIFACTS + "/" + ControllerClient.segment(digest));
      if (!json()) {
        out().println("deleted artifact " + digest);
      }
    }
  }

  /** {@code sha256:<hex>} of a file's bytes, read as a stream. */
  static String digest(Path file) {
    try (InputStream in =
        new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return "sha256:"
          + HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
    } catch (IOException e) {
      throw CliException.usage("cannot read " + file + ": " + Formats.problem(e));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String table(JsonNode items, Instant now) {
    Table t = new Table("kind", "version", "arch", "size", "digest", "pushed");
    for (JsonNode a : items) {
      t.row(
          Formats.text(a, "kind"),
          Formats.text(a, "version"),
          Formats.text(a, "arch"),
          Formats.bytes(a.path("size").asLong()),
          Formats.text(a, "digest"),
          Formats.relative(a, "createdAt", now));
    }
    return t.render();
  }

  static String details(JsonNode a, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Digest", Formats.text(a, "digest"));
    f.put("Kind", Formats.text(a, "kind"));
    f.put("Version", Formats.text(a, "version"));
    f.put("Arch", Formats.text(a, "arch"));
    f.put("Size", Formats.bytes(a.path("size").asLong()));
    f.put("Pushed", Formats.timestamp(a, "createdAt", now) + " by " + Formats.text(a, "createdBy"));
    return Table.fields(f);
  }
}
