package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Pem;
import io.edgefleet.protocol.tls.Signatures;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import java.util.concurrent.Callable;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code edgefleet agent-releases …}: signed releases of the agent itself, and their rollouts. */
@Command(
    name = "agent-releases",
    description = {
      "Sign, push, list, roll out and delete releases of the agent itself. A release is signed"
          + " with a release key the controller trusts; devices check the signature again before"
          + " they switch to it, and return to their previous agent if the new one fails.",
      "Example: edgefleet agent-releases keygen --out keys/ &&"
          + " edgefleet agent-releases sign --key keys/release.key edgefleet-agent-0.2.0-linux-amd64.tar.gz"
    },
    subcommands = {
      AgentReleasesCommand.Keygen.class,
      AgentReleasesCommand.Sign.class,
      AgentReleasesCommand.Push.class,
      AgentReleasesCommand.ListReleases.class,
      AgentReleasesCommand.Rollout.class,
      AgentReleasesCommand.Delete.class
    })
final class AgentReleasesCommand {
  static final String RELEASES = "/api/v1/agent-releases";

  /** The largest release.json read. */
  static final int MAX_MANIFEST = 64 * 1024;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  /** Base of the commands that need no controller: errors as one line, exit 1 or 2. */
  abstract static class Local implements Callable<Integer> {
    @Spec CommandSpec spec;

    abstract void run(PrintWriter out);

    @Override
    public final Integer call() {
      PrintWriter err = spec.commandLine().getErr();
      PrintWriter out = spec.commandLine().getOut();
      try {
        run(out);
        return 0;
      } catch (CliException e) {
        err.println("error: " + e.getMessage());
        return e.exitCode();
      } finally {
        out.flush();
        err.flush();
      }
    }
  }

  @Command(
      name = "keygen",
      mixinStandardHelpOptions = true,
      description = {
        "Create a release key: release.key (the private key, PKCS#8 PEM, readable by you only)"
            + " and release.pub (the public key the controller trusts: copy it to <data"
            + " dir>/agent-release-keys/ or pass it with --agent-release-key).",
        "Example: edgefleet agent-releases keygen --out ~/edgefleet-release-key"
      })
  static final class Keygen extends Local {
    @Option(
        names = "--out",
        required = true,
        paramLabel = "DIR",
        description = "The directory to write release.key and release.pub to (created).")
    Path out;

    @Override
    void run(PrintWriter print) {
      Path key = out.resolve("release.key");
      Path pub = out.resolve("release.pub");
      if (Files.exists(key) || Files.exists(pub)) {
        throw CliException.usage(
            out
                + " already holds a release key; keep it (devices trust it) or choose another"
                + " --out directory");
      }
      KeyPair pair;
      try {
        pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      } catch (java.security.GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
      try {
        Files.createDirectories(out);
        writePrivate(key, Pem.privateKey(pair.getPrivate()));
        Files.writeString(
            pub, Signatures.publicKeyPem(pair.getPublic()), StandardOpenOption.CREATE_NEW);
      } catch (IOException e) {
        throw CliException.usage("cannot write the key to " + out + ": " + Formats.problem(e));
      }
      print.println("release key " + Signatures.keyId(pair.getPublic()));
      print.println("  private: " + key + " (keep it secret and backed up)");
      print.println("  public:  " + pub);
      print.println(
          "trust it: copy "
              + pub
              + " to <controller data dir>/agent-release-keys/ or start the controller with"
              + " --agent-release-key "
              + pub);
    }

    private static void writePrivate(Path key, String pem) throws IOException {
      try {
        Files.createFile(
            key,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } catch (UnsupportedOperationException e) {
        Files.createFile(key);
      } catch (FileAlreadyExistsException e) {
        throw e;
      }
      Files.writeString(key, pem, StandardOpenOption.TRUNCATE_EXISTING);
    }
  }

  @Command(
      name = "sign",
      mixinStandardHelpOptions = true,
      description = {
        "Sign a release file: writes FILE.sig with the version and architecture of its"
            + " release.json, the file's digest and size, signed with the release key.",
        "Example: edgefleet agent-releases sign --key release.key"
            + " edgefleet-agent-0.2.0-linux-amd64.tar.gz"
      })
  static final class Sign extends Local {
    @Option(
        names = "--key",
        required = true,
        paramLabel = "KEY",
        description = "The private release key (release.key from keygen).")
    Path key;

    @Parameters(paramLabel = "FILE", description = "The release file (.tar.gz).")
    Path file;

    @Override
    void run(PrintWriter out) {
      if (!Files.isRegularFile(file)) {
        throw CliException.usage(file + " is not a file; give the release .tar.gz to sign");
      }
      PrivateKey privateKey = readKey(key);
      PublicKey publicKey = publicOf(privateKey);
      AgentReleaseManifest manifest = manifest(file);
      if (manifest.version() == null
          || !AgentRelease.VERSION.matcher(manifest.version()).matches()
          || manifest.arch() == null
          || !AgentRelease.ARCH.matcher(manifest.arch()).matches()) {
        throw CliException.usage(
            file + ": release.json names no valid version and arch; rebuild the release");
      }
      long size;
      try {
        size = Files.size(file);
      } catch (IOException e) {
        throw CliException.usage("cannot read " + file + ": " + Formats.problem(e));
      }
      AgentRelease signed =
          AgentRelease.sign(
              privateKey,
              publicKey,
              manifest.version(),
              manifest.arch(),
              ArtifactsCommand.digest(file),
              size);
      Path sig = file.resolveSibling(file.getFileName() + ".sig");
      try {
        Files.writeString(sig, Json.pretty(signed) + "\n");
      } catch (IOException e) {
        throw CliException.usage("cannot write " + sig + ": " + Formats.problem(e));
      }
      out.println(
          "signed agent "
              + signed.version()
              + " for "
              + signed.arch()
              + " with key "
              + signed.keyId()
              + ": "
              + sig);
    }
  }

  /** The private key of a PEM file, or a usage error saying what to give. */
  static PrivateKey readKey(Path file) {
    try {
      return Pem.privateKey(Files.readString(file, StandardCharsets.UTF_8), "Ed25519");
    } catch (IOException e) {
      throw CliException.usage("cannot read release key " + file + ": " + Formats.problem(e));
    } catch (RuntimeException e) {
      throw CliException.usage(
          file
              + " is not an Ed25519 private key in PEM; give the release.key written by"
              + " edgefleet agent-releases keygen");
    }
  }

  /** The public half of an Ed25519 private key. */
  static PublicKey publicOf(PrivateKey key) {
    try {
      byte[] der = key.getEncoded();
      var info = org.bouncycastle.asn1.pkcs.PrivateKeyInfo.getInstance(der);
      var params =
          new org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters(
              org.bouncycastle.asn1.ASN1OctetString.getInstance(info.parsePrivateKey())
                  .getOctets());
      byte[] raw = params.generatePublicKey().getEncoded();
      byte[] spki = new byte[12 + raw.length];
      byte[] prefix = Base64.getDecoder().decode("MCowBQYDK2VwAyEA");
      System.arraycopy(prefix, 0, spki, 0, prefix.length);
      System.arraycopy(raw, 0, spki, prefix.length, raw.length);
      return KeyFactory.getInstance("Ed25519")
          .generatePublic(new java.security.spec.X509EncodedKeySpec(spki));
    } catch (Exception e) {
      throw CliException.usage("the release key cannot be read as an Ed25519 key: " + e);
    }
  }

  /** The release.json at the root of a release file. */
  static AgentReleaseManifest manifest(Path file) {
    try (InputStream raw = Files.newInputStream(file);
        TarArchiveInputStream tar =
            new TarArchiveInputStream(new GZIPInputStream(new BufferedInputStream(raw)))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        String name = e.getName().startsWith("./") ? e.getName().substring(2) : e.getName();
        if (name.equals(AgentReleaseManifest.FILE) && e.isFile()) {
          if (e.getSize() > MAX_MANIFEST) {
            break;
          }
          return Json.mapper().readValue(tar.readNBytes(MAX_MANIFEST), AgentReleaseManifest.class);
        }
      }
    } catch (IOException e) {
      throw CliException.usage(
          file + " is not a readable release (.tar.gz): " + Formats.problem(e));
    } catch (RuntimeException e) {
      throw CliException.usage(file + " is not a readable release (.tar.gz): " + e.getMessage());
    }
    throw CliException.usage(
        file + " has no release.json at its root; it is not an agent release file");
  }

  @Command(
      name = "push",
      description = {
        "Upload a signed release to the controller; it checks the signature against its trusted"
            + " release keys, the file against the signature, and the archive's layout.",
        "Example: edgefleet agent-releases push edgefleet-agent-0.2.0-linux-amd64.tar.gz"
      })
  static final class Push extends TokenCommand {
    @Parameters(paramLabel = "FILE", description = "The release file (.tar.gz).")
    Path file;

    @Option(
        names = "--signature",
        paramLabel = "SIG",
        description = "Its signature file (default: FILE.sig).")
    Path signature;

    @Override
    void validate() {
      if (!Files.isRegularFile(file)) {
        throw badInput(file + " is not a file; give the release .tar.gz to push");
      }
    }

    @Override
    void run(ControllerClient api) {
      Path sig = signature != null ? signature : file.resolveSibling(file.getFileName() + ".sig");
      String text;
      try {
        if (Files.size(sig) > 4096) {
          throw badInput(sig + " is larger than a signature file can be");
        }
        text = Files.readString(sig, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw badInput(
            "cannot read the signature "
                + sig
                + " ("
                + Formats.problem(e)
                + "); sign the file first: edgefleet agent-releases sign --key release.key "
                + file);
      }
      long size;
      try {
        size = Files.size(file);
      } catch (IOException e) {
        throw badInput("cannot read " + file + ": " + Formats.problem(e));
      }
      if (!json() && size > 8L * 1024 * 1024) {
        spec.commandLine().getErr().println("uploading " + Formats.bytes(size) + " ...");
        spec.commandLine().getErr().flush();
      }
      JsonNode r =
          api.upload(
              RELEASES,
              file,
              Map.of(
                  "X-Edgefleet-Signature",
                  Base64.getEncoder()
                      .encodeToString(text.strip().getBytes(StandardCharsets.UTF_8))));
      print(r, () -> details(r, now()));
    }
  }

  @Command(name = "list", description = "Every stored agent release: version, arch, size, key.")
  static final class ListReleases extends TokenCommand {
    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(RELEASES).path("items");
      printItems(items, () -> table(items, now()));
    }
  }

  @Command(
      name = "rollout",
      description = {
        "Roll a release out to the devices a selector matches, through the rollout engine: each"
            + " device gets the release for its architecture; canary, waves, windows and"
            + " automatic rollback as the rollout policy says.",
        "Example: edgefleet agent-releases rollout 0.2.0 --target site=lab --rollout canary.yaml"
      })
  static final class Rollout extends TokenCommand {
    @Parameters(paramLabel = "VERSION", description = "The release's version.")
    String version;

    @Option(
        names = "--target",
        required = true,
        paramLabel = "SELECTOR",
        description = "The devices: a selector such as site=lab, or '*' for every device.")
    String target;

    @Option(
        names = "--rollout",
        paramLabel = "POLICY.yaml",
        description = "A rollout policy file (default: every device at once).")
    Path rollout;

    @Mixin PreflightOptions preflight;

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      body.put("target", target);
      String policy = DeployCommand.readPolicy(rollout, this);
      if (policy != null) {
        body.put("rollout", policy);
      }
      if (preflight.dryRun) {
        body.put("dryRun", true);
      }
      preflight.body(body);
      JsonNode plan =
          api.post(RELEASES + "/" + ControllerClient.segment(version) + "/rollout", body);
      print(plan, () -> plan(plan));
      if (!plan.path("dryRun").asBoolean() && !json()) {
        note("follow it with: edgefleet rollouts status " + plan.path("rolloutId").asText());
      }
    }
  }

  @Command(
      name = "delete",
      description = "Delete a release (every architecture, or --arch); refused while in use.")
  static final class Delete extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Parameters(paramLabel = "VERSION", description = "The release's version.")
    String version;

    @Option(names = "--arch", paramLabel = "ARCH", description = "Only this architecture.")
    String arch;

    @Override
    public String question() {
      return "Delete agent release "
          + version
          + (arch == null ? " (every architecture)" : " for " + arch)
          + "? Devices can no longer fetch it.";
    }

    @Override
    void run(ControllerClient api) {
      api.delete(
          RELEASES
              + "/"
              + ControllerClient.segment(version)
              + (arch == null ? "" : "?arch=" + ControllerClient.segment(arch)));
      if (!json()) {
        out().println("deleted agent release " + version + (arch == null ? "" : " for " + arch));
      }
    }
  }

  static String table(JsonNode items, Instant now) {
    Table t = new Table("version", "arch", "size", "key", "digest", "pushed");
    for (JsonNode a : items) {
      t.row(
          Formats.text(a, "version"),
          Formats.text(a, "arch"),
          Formats.bytes(a.path("size").asLong()),
          Formats.text(a, "keyId"),
          Formats.text(a, "digest"),
          Formats.relative(a, "pushedAt", now));
    }
    return t.render();
  }

  static String details(JsonNode a, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Version", Formats.text(a, "version"));
    f.put("Arch", Formats.text(a, "arch"));
    f.put("Size", Formats.bytes(a.path("size").asLong()));
    f.put("Digest", Formats.text(a, "digest"));
    f.put("Signed by", Formats.text(a, "keyId"));
    f.put("Pushed", Formats.timestamp(a, "pushedAt", now) + " by " + Formats.text(a, "pushedBy"));
    return Table.fields(f);
  }

  static String plan(JsonNode p) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Agent", p.path("version").asText());
    f.put("Target", p.path("target").asText());
    StringBuilder arch = new StringBuilder();
    p.path("byArch")
        .properties()
        .forEach(
            e ->
                arch.append(arch.isEmpty() ? "" : ", ")
                    .append(e.getKey())
                    .append(' ')
                    .append(e.getValue().asInt()));
    f.put("Devices", p.path("devices").asInt() + (arch.isEmpty() ? "" : " (" + arch + ")"));
    f.put("Rollout policy", p.path("policy").asText());
    StringBuilder batches = new StringBuilder();
    for (JsonNode b : p.path("batches")) {
      batches
          .append(batches.isEmpty() ? "" : ", ")
          .append(b.path("name").asText())
          .append(' ')
          .append(b.path("devices").asInt());
    }
    f.put("Batches", batches.toString());
    if (p.hasNonNull("rolloutId")) {
      f.put("Rollout", p.path("rolloutId").asText());
    }
    StringBuilder out = new StringBuilder(Table.fields(f));
    for (JsonNode problem : p.path("problems")) {
      out.append("problem: ").append(problem.path("message").asText());
      if (!problem.path("examples").isEmpty()) {
        out.append(" (");
        int i = 0;
        for (JsonNode e : problem.path("examples")) {
          out.append(i++ == 0 ? "" : ", ").append(e.asText());
        }
        out.append(')');
      }
      out.append('\n');
    }
    if (p.path("dryRun").asBoolean()) {
      out.append("\nDry run: nothing was started.\n");
    }
    return out.toString();
  }
}
