package io.edgefleet.agentdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.testkit.TestController;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packages the build made (target/): the .deb is a valid Debian package that installs, removes
 * and purges in a scratch root; its unit passes systemd's own check; the agent started from the
 * unpacked package (its start script, its jlink runtime) and from the tarball's install enrolls
 * with a real controller and comes online.
 */
class AgentPackageIT {
  private static final Path DIST = Path.of(System.getProperty("agent.dist.dir", "target"));
  private static final String ARCH = System.getProperty("os.arch");

  private static final java.util.Properties MADE = new java.util.Properties();

  @TempDir static Path shared;
  private static TestController controller;
  private static AgentReleaseManifest manifest;

  @TempDir Path scratch;
  private final List<Process> started = new ArrayList<>();

  @BeforeAll
  static void startController() throws IOException {
    Path made = DIST.resolve(AgentDist.MADE);
    assertThat(made).as("run the package phase first").exists();
    try (var r = Files.newBufferedReader(made)) {
      MADE.load(r);
    }
    manifest = manifestOf(made("release"));
    controller = TestController.start(shared.resolve("controller"));
  }

  @AfterAll
  static void stopController() {
    if (controller != null) {
      controller.close();
    }
  }

  @AfterEach
  void stopAgents() {
    for (Process p : started) {
      p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  @Test
  void releaseFileHoldsTheManifestAndTheAgentsJarsOnly() throws Exception {
    Path release = made("release");
    assertThat(release.getFileName().toString())
        .isEqualTo("edgefleet-agent-" + manifest.version() + "-linux-" + ARCH + ".tar.gz");
    assertThat(manifest.version()).isEqualTo(MADE.getProperty("version"));
    assertThat(manifest.format()).isEqualTo(AgentReleaseManifest.FORMAT);
    assertThat(manifest.arch()).isEqualTo(ARCH);
    assertThat(manifest.mainClass()).isEqualTo("io.edgefleet.agent.command.AgentMain");

    List<String> listing = run(scratch, "tar", "tvzf", release.toString());
    for (String line : listing) {
      assertThat(line).as("only directories and regular files").matches("^[-d].*");
      assertThat(line).contains("root/root");
    }
    List<String> names = run(scratch, "tar", "tzf", release.toString());
    assertThat(names).contains("release.json", "lib/").allMatch(n -> !n.startsWith("/"));
    assertThat(names)
        .filteredOn(n -> !n.equals("release.json") && !n.equals("lib/"))
        .isNotEmpty()
        .allMatch(n -> n.matches("lib/[^/]+\\.jar"));
    assertThat(names)
        .anyMatch(n -> n.startsWith("lib/edgefleet-agent-"))
        .noneMatch(n -> n.contains("junit") || n.contains("testkit") || n.contains("controller"));

    // No jar is signed or registers a security provider (each costs the agent memory at start).
    Path lib = Files.createDirectories(scratch.resolve("release-lib"));
    run(lib, "tar", "xzf", release.toString());
    try (var jars = Files.list(lib.resolve("lib"))) {
      for (Path jar : jars.toList()) {
        assertThat(ReleaseJar.needsChange(jar)).as(jar.getFileName().toString()).isFalse();
      }
    }
  }

  @Test
  void debDescribesItselfToDpkg() throws Exception {
    Path deb = made("deb");
    String debVersion = manifest.version().replace('-', '~');
    assertThat(deb.getFileName().toString())
        .isEqualTo("edgefleet-agent_" + debVersion + "_" + debianArch() + ".deb");

    String info = String.join("\n", run(scratch, "dpkg-deb", "--info", deb.toString()));
    assertThat(info)
        .contains("Package: edgefleet-agent")
        .contains("Version: " + debVersion)
        .contains("Architecture: " + debianArch())
        .contains("Depends: libc6");
    List<String> contents = run(scratch, "dpkg-deb", "--contents", deb.toString());
    assertThat(contents)
        .anyMatch(
            l -> l.matches("-rwxr-xr-x root/root .* ./usr/lib/edgefleet-agent/bin/edgefleet-agent"))
        .anyMatch(
            l -> l.matches("-rwxr-xr-x root/root .* ./usr/lib/edgefleet-agent/runtime/bin/java"))
        .anyMatch(l -> l.endsWith(" ./usr/lib/edgefleet-agent/release/release.json"))
        .anyMatch(l -> l.endsWith(" ./usr/lib/systemd/system/edgefleet-agent.service"))
        .anyMatch(l -> l.endsWith(" ./etc/edgefleet/agent.env"))
        .noneMatch(l -> l.contains("bootstrap.json"));

    Path control = scratch.resolve("control");
    run(scratch, "dpkg-deb", "--control", deb.toString(), control.toString());
    assertThat(Files.readString(control.resolve("conffiles")))
        .isEqualTo("/etc/edgefleet/agent.env\n");
    for (String script : List.of("postinst", "prerm", "postrm")) {
      assertThat(Files.isExecutable(control.resolve(script))).as(script).isTrue();
      run(scratch, "sh", "-n", control.resolve(script).toString());
    }
    // md5sums names every file of the package, and dpkg agrees with them after unpacking.
    List<String> md5sums = Files.readAllLines(control.resolve("md5sums"));
    long files = contents.stream().filter(l -> l.startsWith("-")).count();
    assertThat(md5sums).hasSize((int) files);
    Path root = scratch.resolve("root");
    run(scratch, "dpkg", "-x", deb.toString(), root.toString());
    run(root, "md5sum", "--check", "--quiet", control.resolve("md5sums").toString());
  }

  @Test
  void debInstallsRemovesAndPurgesInAScratchRoot() throws Exception {
    Path deb = made("deb");
    Path root = scratch.resolve("root");
    Files.createDirectories(root.resolve("var/lib/dpkg/info"));
    Files.createDirectories(root.resolve("var/lib/dpkg/updates"));
    Files.writeString(root.resolve("var/lib/dpkg/status"), "");
    // The scratch root's dpkg database knows no libc6; the maintainer scripts run outside a
    // chroot with DPKG_ROOT set (they touch no service then).
    String[] dpkg = {
      "dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends", "--force-not-root"
    };

    run(scratch, concat(dpkg, "--install", deb.toString()));
    assertThat(run(scratch, "dpkg", "--root=" + root, "--status", "edgefleet-agent"))
        .contains("Status: install ok installed");
    Path state = root.resolve("var/lib/edgefleet");
    assertThat(Files.getPosixFilePermissions(state))
        .isEqualTo(
            Set.of(
                PosixFilePermission.OWNER_READ,
                PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_EXECUTE));
    assertThat(root.resolve("etc/edgefleet/release-keys")).isDirectory();
    assertThat(root.resolve("etc/rancher")).isDirectory();
    assertThat(root.resolve("usr/lib/edgefleet-agent/runtime/bin/java")).isExecutable();

    // Installing again (an upgrade) keeps an edited settings file: it is a configuration file.
    Files.writeString(
        root.resolve("etc/edgefleet/agent.env"), "EDGEFLEET_AGENT_ARGS=--allow-shell\n");
    run(scratch, concat(dpkg, "--install", deb.toString()));
    assertThat(Files.readString(root.resolve("etc/edgefleet/agent.env")))
        .isEqualTo("EDGEFLEET_AGENT_ARGS=--allow-shell\n");

    // The device's identity survives a removal (a reinstall is the same device) ...
    Files.createDirectories(state.resolve("agent"));
    Files.writeString(state.resolve("agent/identity.json"), "{}");
    Files.writeString(root.resolve("etc/edgefleet/bootstrap.json"), "{}");
    run(scratch, concat(dpkg, "--remove", "edgefleet-agent"));
    assertThat(root.resolve("usr/lib/edgefleet-agent")).doesNotExist();
    assertThat(root.resolve("usr/lib/systemd/system/edgefleet-agent.service")).doesNotExist();
    assertThat(state.resolve("agent/identity.json")).exists();
    assertThat(root.resolve("etc/edgefleet/agent.env")).exists();

    // ... and a purge removes it with the configuration.
    run(scratch, concat(dpkg, "--purge", "edgefleet-agent"));
    assertThat(state).doesNotExist();
    assertThat(root.resolve("etc/edgefleet")).doesNotExist();
  }

  @Test
  void unitFilePassesSystemdAnalyzeVerify() throws Exception {
    Path root = scratch.resolve("root");
    run(scratch, "dpkg", "-x", made("deb").toString(), root.toString());
    String unit = Files.readString(root.resolve("usr/lib/systemd/system/edgefleet-agent.service"));
    assertThat(unit)
        .contains("ExecStart=/usr/lib/edgefleet-agent/bin/edgefleet-agent\n")
        .contains("Restart=always\n")
        .contains("ProtectSystem=full\n")
        .contains("StateDirectory=edgefleet\n");
    // systemd checks the command exists: point it into the scratch root.
    Path units = Files.createDirectories(scratch.resolve("units"));
    Path copy = units.resolve("edgefleet-agent.service");
    Files.writeString(
        copy, unit.replace("/usr/lib/edgefleet-agent/", root + "/usr/lib/edgefleet-agent/"));
    List<String> out = run(scratch, "systemd-analyze", "verify", copy.toString());
    assertThat(out).as("systemd-analyze verify reports nothing").isEmpty();

    // It does catch a mistake.
    Files.writeString(copy, Files.readString(copy).replace("Restart=always", "Restrat=always"));
    Process p =
        new ProcessBuilder("systemd-analyze", "verify", copy.toString())
            .redirectErrorStream(true)
            .start();
    String complaint = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    assertThat(complaint).contains("Restrat");
  }

  @Test
  void agentFromTheUnpackedDebEnrollsAndComesOnline() throws Exception {
    Path root = scratch.resolve("root");
    run(scratch, "dpkg", "-x", made("deb").toString(), root.toString());
    startAndAwaitOnline(root, "deb-device");
  }

  @Test
  void agentFromTheBundleTarballInstalledByItsScriptEnrollsAndComesOnline() throws Exception {
    Path bundle = made("bundle");
    Path unpacked = Files.createDirectories(scratch.resolve("unpacked"));
    run(unpacked, "tar", "xzf", bundle.toString());
    Path installer =
        unpacked.resolve(
            "edgefleet-agent-" + manifest.version() + "-linux-" + ARCH + "/install.sh");
    Path root = scratch.resolve("root");
    run(scratch, installer.toString(), "--root", root.toString());
    assertThat(root.resolve("usr/lib/systemd/system/edgefleet-agent.service")).isRegularFile();
    assertThat(root.resolve("etc/edgefleet/agent.env")).isRegularFile();
    assertThat(Files.getPosixFilePermissions(root.resolve("var/lib/edgefleet")))
        .containsExactlyInAnyOrder(
            PosixFilePermission.OWNER_READ,
            PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_EXECUTE);

    // The same files as the .deb's.
    Path fromDeb = scratch.resolve("deb");
    run(scratch, "dpkg", "-x", made("deb").toString(), fromDeb.toString());
    assertThat(files(root.resolve("usr/lib/edgefleet-agent")))
        .isEqualTo(files(fromDeb.resolve("usr/lib/edgefleet-agent")));

    // A second run upgrades in place and keeps an edited settings file.
    Files.writeString(root.resolve("etc/edgefleet/agent.env"), "# edited\n");
    run(scratch, installer.toString(), "--root", root.toString());
    assertThat(Files.readString(root.resolve("etc/edgefleet/agent.env"))).isEqualTo("# edited\n");

    startAndAwaitOnline(root, "bundle-device");
  }

  @Test
  void runtimeHasEveryJdkModuleTheAgentsJarsUse() throws Exception {
    Path root = scratch.resolve("root");
    run(scratch, "dpkg", "-x", made("deb").toString(), root.toString());
    Path home = root.resolve("usr/lib/edgefleet-agent");
    List<String> jars;
    try (Stream<Path> s = Files.list(home.resolve("release/lib"))) {
      jars = s.map(Path::toString).sorted().toList();
    }
    ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow();
    StringWriter out = new StringWriter();
    List<String> args =
        new ArrayList<>(
            List.of("--multi-release", "21", "--ignore-missing-deps", "--print-module-deps"));
    args.addAll(jars);
    int rc =
        jdeps.run(
            new PrintWriter(out, true), new PrintWriter(out, true), args.toArray(String[]::new));
    assertThat(rc).as(out.toString()).isZero();
    String last = out.toString().strip().lines().reduce((a, b) -> b).orElseThrow();
    Set<String> needed = new TreeSet<>(Arrays.asList(last.split(",")));
    // java.desktop is named by SnakeYAML's and Jackson's JavaBeans support and JNA's AWT helpers,
    // none of which the agent uses (the runtime is 15 MB smaller without it).
    needed.remove("java.desktop");

    Set<String> present =
        run(scratch, home.resolve("runtime/bin/java").toString(), "--list-modules").stream()
            .map(l -> l.replaceAll("@.*", ""))
            .collect(Collectors.toCollection(TreeSet::new));
    assertThat(present).containsAll(needed).doesNotContain("java.desktop", "jdk.compiler");
  }

  private void startAndAwaitOnline(Path root, String name) throws Exception {
    Path conf = root.resolve("etc/edgefleet");
    Path state = root.resolve("var/lib/edgefleet");
    Path home = root.resolve("usr/lib/edgefleet-agent");
    String token = controller.token(Map.of(), null, false);
    Files.createDirectories(conf);
    SecureFiles.writeSecret(
        conf.resolve("bootstrap.json"),
        Json.pretty(Bootstrap.of(controller.url(), controller.caFingerprint(), token)));

    Path log = scratch.resolve(name + ".log");
    ProcessBuilder pb =
        new ProcessBuilder(home.resolve("bin/edgefleet-agent").toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    Map<String, String> env = pb.environment();
    env.remove("JAVA_HOME");
    env.remove("EDGEFLEET_JAVA");
    env.put("EDGEFLEET_HOME", home.toString());
    env.put("EDGEFLEET_CONF", conf.toString());
    env.put("EDGEFLEET_STATE", state.toString());
    env.put(
        "EDGEFLEET_AGENT_ARGS",
        "--name " + name + " --runtime none --no-tpm --no-qr --max-backoff 2s");
    Process agent = pb.start();
    started.add(agent);

    JsonNode device;
    try {
      device =
          await()
              .atMost(Duration.ofSeconds(60))
              .until(
                  () -> device(name), d -> d != null && d.path("status").asText().equals("ONLINE"));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(
          "the agent did not come online; its output:\n" + Files.readString(log), e);
    }
    assertThat(device.path("agentVersion").asText()).isEqualTo(manifest.version());

    // It runs on the package's own runtime, from a slot seeded with the package's release.
    String runtimeJava = home.resolve("runtime/bin/java").toRealPath().toString();
    assertThat(Stream.concat(Stream.of(agent.toHandle()), agent.toHandle().descendants()))
        .as("a process of the package's runtime")
        .anyMatch(h -> h.info().command().map(runtimeJava::equals).orElse(false));
    try (Stream<Path> slots = Files.list(state.resolve("slots"))) {
      assertThat(slots.filter(s -> Files.isRegularFile(s.resolve("release.json"))))
          .isNotEmpty()
          .allSatisfy(
              s ->
                  assertThat(Files.readString(s.resolve("release.json")))
                      .contains(manifest.version()));
    }
    assertThat(state.resolve("agent")).isDirectory();

    agent.toHandle().descendants().forEach(ProcessHandle::destroy);
    agent.destroy();
    assertThat(agent.waitFor(30, TimeUnit.SECONDS)).isTrue();
  }

  private static JsonNode device(String name) {
    JsonNode body = controller.admin().get("/api/v1/devices").body();
    return StreamSupport.stream(body.path("items").spliterator(), false)
        .filter(d -> d.path("name").asText().equals(name))
        .findFirst()
        .orElse(null);
  }

  private static Set<String> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.map(
              p ->
                  dir.relativize(p) + (Files.isExecutable(p) && Files.isRegularFile(p) ? " x" : ""))
          .collect(Collectors.toCollection(TreeSet::new));
    }
  }

  private static AgentReleaseManifest manifestOf(Path release) throws IOException {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(release))) {
      byte[] header = new byte[512];
      while (in.readNBytes(header, 0, 512) == 512 && header[0] != 0) {
        String name = new String(header, 0, 100, StandardCharsets.UTF_8).replaceAll("\0.*", "");
        long size = Long.parseLong(new String(header, 124, 11, StandardCharsets.US_ASCII), 8);
        byte[] data = in.readNBytes((int) size);
        in.skipNBytes((512 - size % 512) % 512);
        if (name.equals(AgentReleaseManifest.FILE)) {
          return Json.mapper().readValue(data, AgentReleaseManifest.class);
        }
      }
    }
    throw new AssertionError("no release.json in " + release);
  }

  private static Path made(String what) {
    Path file = DIST.resolve(MADE.getProperty(what));
    assertThat(file).isRegularFile();
    return file;
  }

  private static String debianArch() {
    return AgentDist.debianArch(ARCH);
  }

  private static String[] concat(String[] first, String... rest) {
    String[] all = Arrays.copyOf(first, first.length + rest.length);
    System.arraycopy(rest, 0, all, first.length, rest.length);
    return all;
  }

  /** Runs a command to its end; its output lines, or a failure with them. */
  private static List<String> run(Path dir, String... command) throws Exception {
    Process p =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
    assertThat(p.exitValue()).as("%s:%n%s", String.join(" ", command), out).isZero();
    return out.lines().toList();
  }
}
