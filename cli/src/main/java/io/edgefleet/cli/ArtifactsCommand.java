package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code edgefleet artifacts …}: binaries and container images devices fetch from the controller.
 */
@Command(
    name = "artifacts",
    description = {
      "Push, mirror, list and delete the artifacts devices fetch from the controller: the K3s"
          + " binaries cluster members run and the container images apps run, so that sites"
          + " without internet access need nothing else.",
      "Example: edgefleet artifacts push ./k3s --kind k3s --version v1.20.2+k3s1 --arch amd64",
      "Example: edgefleet artifacts mirror registry.example.com/team/app:1.0 --arch arm64"
    },
    subcommands = {
      ArtifactsCommand.Push.class,
      ArtifactsCommand.Mirror.class,
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

  @Command(
      name = "mirror",
      description = {
        "Have the controller copy a container image from a registry into its artifact store, as"
            + " an oci-archive devices fetch through the controller. The controller pulls the"
            + " image itself (registries it needs a CA, credentials or plain HTTP for are set in"
            + " registries.yaml in its data directory); every digest is checked. Mirroring an"
            + " image already stored answers it at once.",
        "Example: edgefleet artifacts mirror registry.example.com/team/app:1.0 --arch arm64",
        "Example: edgefleet artifacts mirror 10.0.0.5:5000/app@sha256:<digest>"
      })
  static final class Mirror extends TokenCommand {
    /** How long a pull may take before the command stops waiting (the controller goes on). */
    static final Duration TIMEOUT = Duration.ofMinutes(30);

    @Parameters(
        paramLabel = "REFERENCE",
        description =
            "The image: HOST[:PORT]/REPOSITORY[:TAG] or HOST[:PORT]/REPOSITORY@sha256:DIGEST. The"
                + " registry host is required (docker.io/library/busybox:1.36, not busybox:1.36).")
    String reference;

    @Option(
        names = "--arch",
        paramLabel = "ARCH",
        description =
            "The CPU architecture of the devices that will run it, picked from a multi-platform"
                + " image (default: amd64).")
    String arch = "amd64";

    @Override
    void validate() {
      String first = reference.contains("/") ? reference.substring(0, reference.indexOf('/')) : "";
      if (!(first.contains(".") || first.contains(":") || first.equals("localhost"))) {
        throw badInput(
            "'"
                + reference
                + "' names no registry; write the registry's host first, such as"
                + " docker.io/library/"
                + reference
                + " or registry.example.com/"
                + reference);
      }
    }

    @Override
    void run(ControllerClient api) {
      spec.commandLine()
          .getErr()
          .println(
              "Mirroring "
                  + reference
                  + " for linux/"
                  + arch
                  + ": the controller pulls the image and answers once it is stored…");
      ObjectNode body = object();
      body.put("reference", reference);
      body.put("arch", arch);
      JsonNode m = api.post(ARTIFACTS + "/mirror", body, TIMEOUT);
      print(m, () -> mirrored(m, now()));
    }
  }

  static String mirrored(JsonNode m, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Image", Formats.text(m, "reference"));
    f.put("Platform", Formats.text(m, "platform"));
    f.put("Manifest", Formats.text(m, "manifestDigest"));
    f.put(
        "Stored",
        m.path("fetched").asBoolean()
            ? "now, fetched from the registry"
            : "already (nothing fetched)");
    JsonNode a = m.path("artifact");
    f.put("Artifact", Formats.text(a, "digest"));
    f.put("Name", Formats.text(a, "name"));
    f.put("Size", Formats.bytes(a.path("size").asLong()));
    f.put("Pushed", Formats.timestamp(a, "createdAt", now) + " by " + Formats.text(a, "createdBy"));
    return Table.fields(f);
  }

  @Command(name = "list", description = "Every artifact: kind, name, version, architecture, size.")
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
    Table t = new Table("kind", "name", "version", "arch", "size", "digest", "pushed");
    for (JsonNode a : items) {
      t.row(
          Formats.text(a, "kind"),
          Formats.text(a, "name"),
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
    f.put("Name", Formats.text(a, "name"));
    f.put("Version", Formats.text(a, "version"));
    f.put("Arch", Formats.text(a, "arch"));
    f.put("Size", Formats.bytes(a.path("size").asLong()));
    f.put("Pushed", Formats.timestamp(a, "createdAt", now) + " by " + Formats.text(a, "createdBy"));
    return Table.fields(f);
  }
}
