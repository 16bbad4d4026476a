package io.edgefleet.agentdist;

import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;

/**
 * Builds the agent's device software from the agent's runtime class path (run by the build in the
 * {@code package} phase):
 *
 * <ul>
 *   <li>the release file {@code edgefleet-agent-VERSION-linux-ARCH.tar.gz} ({@code release.json}
 *       and {@code lib/*.jar}), the unit of remote updates;
 *   <li>a jlink runtime with only the JDK modules the agent needs ({@code agent-runtime/});
 *   <li>the Debian package {@code edgefleet-agent_DEBVERSION_DEBARCH.deb};
 *   <li>the tarball {@code edgefleet-agent-VERSION-linux-ARCH-bundle.tar.gz} with an {@code
 *       install.sh}, for devices without dpkg.
 * </ul>
 *
 * Every archive is reproducible: sorted entries, root:root, one fixed time.
 */
public final class AgentDist {
  static final String PACKAGE = "edgefleet-agent";
  static final String HOME = "usr/lib/edgefleet-agent";
  static final String UNIT = "usr/lib/systemd/system/edgefleet-agent.service";
  static final String AGENT_ENV = "etc/edgefleet/agent.env";

  /** The file naming what the build made. */
  static final String MADE = "agent-dist.properties";

  static final String JAVA_OPTIONS = "--enable-native-access=ALL-UNNAMED";

  private final Map<String, String> args;
  private final Path out;
  private final long mtime;

  private AgentDist(Map<String, String> args) {
    this.args = args;
    this.out = Path.of(arg("out"));
    this.mtime = mtime(args.getOrDefault("mtime", ""));
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>();
    for (String a : argv) {
      int eq = a.indexOf('=');
      if (!a.startsWith("--") || eq < 0) {
        throw new IllegalArgumentException("expected --name=value, got: " + a);
      }
      args.put(a.substring(2, eq), a.substring(eq + 1));
    }
    new AgentDist(args).build();
  }

  private String arg(String name) {
    String v = args.get(name);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("missing --" + name + "=...");
    }
    return v;
  }

  /** The archives' time: the build's reproducible output timestamp, else the epoch. */
  static long mtime(String outputTimestamp) {
    if (outputTimestamp.isBlank() || outputTimestamp.startsWith("${")) {
      return 0;
    }
    if (outputTimestamp.chars().allMatch(Character::isDigit)) {
      return Long.parseLong(outputTimestamp);
    }
    return Instant.parse(outputTimestamp).getEpochSecond();
  }

  /** The JVM's name for this machine's CPU, the release's arch (as devices report it). */
  static String arch() {
    return System.getProperty("os.arch");
  }

  /** Debian's name for a JVM arch. */
  static String debianArch(String arch) {
    return switch (arch) {
      case "amd64", "x86_64" -> "amd64";
      case "aarch64" -> "arm64";
      case "arm" -> "armhf";
      case "riscv64" -> "riscv64";
      default -> throw new IllegalArgumentException("no Debian architecture known for " + arch);
    };
  }

  /** A Maven version as a Debian version: a pre-release sorts before its release. */
  static String debianVersion(String version) {
    String v = version.replace('-', '~');
    if (!v.matches("[0-9][A-Za-z0-9.+~]*")) {
      throw new IllegalArgumentException("not usable as a Debian version: " + version);
    }
    return v;
  }

  static String releaseFileName(String version, String arch) {
    return PACKAGE + "-" + version + "-linux-" + arch + ".tar.gz";
  }

  static String bundleFileName(String version, String arch) {
    return PACKAGE + "-" + version + "-linux-" + arch + "-bundle.tar.gz";
  }

  static String debFileName(String version, String arch) {
    return PACKAGE + "_" + debianVersion(version) + "_" + debianArch(arch) + ".deb";
  }

  private void build() throws IOException {
    long started = System.nanoTime();
    // The version as the agent reports it (lower case), which rollouts compare with the release's.
    String version = arg("version").toLowerCase(java.util.Locale.ROOT);
    String arch = arch();
    Path dist = Path.of(arg("dist"));
    Path script = Path.of(arg("start-script"));
    if (!Files.isRegularFile(script)) {
      throw new IllegalStateException("the agent's start script is missing: " + script);
    }

    List<Entry> release = releaseEntries(version, arch);
    Path releaseFile = out.resolve(releaseFileName(version, arch));
    writeAtomically(releaseFile, o -> Tar.writeGzip(o, release, mtime, false));

    Path runtime = jlink(arg("modules"));

    List<Entry> layout = new ArrayList<>();
    layout.add(Entry.file(HOME + "/bin/edgefleet-agent", 0755, script));
    layout.addAll(tree(runtime, HOME + "/runtime"));
    release.forEach(e -> layout.add(e.under(HOME + "/release")));
    layout.add(Entry.file(UNIT, 0644, dist.resolve("edgefleet-agent.service")));
    layout.add(Entry.file(AGENT_ENV, 0644, dist.resolve("agent.env")));

    Path deb = out.resolve(debFileName(version, arch));
    writeAtomically(deb, o -> deb(o, version, arch, dist, layout));

    String prefix = PACKAGE + "-" + version + "-linux-" + arch;
    List<Entry> bundle = new ArrayList<>();
    layout.forEach(e -> bundle.add(e.under(prefix)));
    bundle.add(Entry.file(prefix + "/install.sh", 0755, dist.resolve("install.sh")));
    Path tarball = out.resolve(bundleFileName(version, arch));
    writeAtomically(tarball, o -> Tar.writeGzip(o, bundle, mtime, false));

    // What this build made, for the tests (a target/ not cleaned may hold an older version's).
    java.util.Properties made = new java.util.Properties();
    made.setProperty("version", version);
    made.setProperty("arch", arch);
    made.setProperty("release", releaseFile.getFileName().toString());
    made.setProperty("runtime", runtime.getFileName().toString());
    made.setProperty("deb", deb.getFileName().toString());
    made.setProperty("bundle", tarball.getFileName().toString());
    made.setProperty("bundle.prefix", prefix);
    try (var w = Files.newBufferedWriter(out.resolve(MADE))) {
      made.store(w, null);
    }
    System.out.printf(
        "agent release %s (%s), runtime %s (%s), %s (%s), %s (%s) in %.1f s%n",
        releaseFile.getFileName(),
        mib(Files.size(releaseFile)),
        runtime.getFileName(),
        mib(treeSize(runtime)),
        deb.getFileName(),
        mib(Files.size(deb)),
        tarball.getFileName(),
        mib(Files.size(tarball)),
        (System.nanoTime() - started) / 1e9);
  }

  private List<Entry> releaseEntries(String version, String arch) throws IOException {
    List<Entry> entries = new ArrayList<>();
    AgentReleaseManifest manifest =
        new AgentReleaseManifest(
            AgentReleaseManifest.FORMAT, version, arch, arg("main-class"), List.of(JAVA_OPTIONS));
    entries.add(
        Entry.file(
            AgentReleaseManifest.FILE,
            0644,
            (Json.pretty(manifest) + "\n").getBytes(StandardCharsets.UTF_8)));
    Map<String, Path> jars = new LinkedHashMap<>();
    String classpath = Files.readString(Path.of(arg("classpath-file"))).strip();
    for (String element : classpath.split(java.io.File.pathSeparator)) {
      Path jar = Path.of(element);
      if (!element.endsWith(".jar") || !Files.isRegularFile(jar)) {
        throw new IllegalStateException(
            "the agent's class path holds "
                + element
                + ", not a jar (build the agent module first)");
      }
      Path earlier = jars.put(jar.getFileName().toString(), jar);
      if (earlier != null) {
        throw new IllegalStateException("two jars named " + jar.getFileName() + ": " + earlier);
      }
    }
    for (Map.Entry<String, Path> jar : jars.entrySet()) {
      String path = "lib/" + jar.getKey();
      entries.add(
          ReleaseJar.of(jar.getValue())
              .map(bytes -> Entry.file(path, 0644, bytes))
              .orElseGet(() -> Entry.file(path, 0644, jar.getValue())));
    }
    return entries;
  }

  /**
   * The runtime in {@code out/agent-runtime}, made by jlink of the JDK running the build; kept
   * across builds while the JDK and the module list stay the same.
   */
  private Path jlink(String modules) throws IOException {
    Path runtime = out.resolve("agent-runtime");
    Path stamp = out.resolve("agent-runtime.stamp");
    String key =
        String.join(
            "\n",
            System.getProperty("java.home"),
            System.getProperty("java.runtime.version"),
            modules,
            "strip-debug,no-header-files,no-man-pages,zip-6");
    if (Files.isRegularFile(stamp)
        && Files.readString(stamp).equals(key)
        && Files.isExecutable(runtime.resolve("bin/java"))) {
      return runtime;
    }
    deleteTree(runtime);
    Files.deleteIfExists(stamp);
    ToolProvider jlink =
        ToolProvider.findFirst("jlink")
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "jlink is missing: build with a JDK (not a JRE); java.home is "
                            + System.getProperty("java.home")));
    StringWriter output = new StringWriter();
    PrintWriter pw = new PrintWriter(output);
    int rc =
        jlink.run(
            pw,
            pw,
            "--add-modules",
            modules,
            "--strip-debug",
            "--no-header-files",
            "--no-man-pages",
            "--compress",
            "zip-6",
            "--output",
            runtime.toString());
    pw.flush();
    if (rc != 0) {
      throw new IllegalStateException("jlink failed (" + rc + "):\n" + output);
    }
    Files.writeString(stamp, key);
    return runtime;
  }

  /** Files and directories under {@code dir} as entries under {@code into}; links followed. */
  private static List<Entry> tree(Path dir, String into) throws IOException {
    List<Entry> entries = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted().toList()) {
        if (p.equals(dir)) {
          continue;
        }
        String path = into + "/" + dir.relativize(p).toString().replace('\\', '/');
        if (Files.isDirectory(p)) {
          entries.add(Entry.directory(path));
        } else if (Files.isRegularFile(p)) {
          entries.add(Entry.file(path, Files.isExecutable(p) ? 0755 : 0644, p.toRealPath()));
        } else {
          throw new IllegalStateException("neither a file nor a directory: " + p);
        }
      }
    }
    return entries;
  }

  private void deb(OutputStream o, String version, String arch, Path dist, List<Entry> layout)
      throws IOException {
    List<Entry> data = Tar.complete(layout);
    long installedBytes = 0;
    StringBuilder md5sums = new StringBuilder();
    for (Entry e : data) {
      if (!e.isDirectory()) {
        installedBytes += (e.size() + 1023) / 1024 * 1024;
        md5sums.append(digest("MD5", e)).append("  ").append(e.path()).append('\n');
      }
    }
    String control =
        Files.readString(dist.resolve("deb/control"))
            .replace("@VERSION@", debianVersion(version))
            .replace("@ARCH@", debianArch(arch))
            .replace("@INSTALLED_SIZE@", Long.toString(installedBytes / 1024));
    List<Entry> controlEntries =
        List.of(
            Entry.file("control", 0644, control.getBytes(StandardCharsets.UTF_8)),
            Entry.file(
                "conffiles", 0644, ("/" + AGENT_ENV + "\n").getBytes(StandardCharsets.UTF_8)),
            Entry.file("md5sums", 0644, md5sums.toString().getBytes(StandardCharsets.UTF_8)),
            Entry.file("postinst", 0755, dist.resolve("deb/postinst")),
            Entry.file("prerm", 0755, dist.resolve("deb/prerm")),
            Entry.file("postrm", 0755, dist.resolve("deb/postrm")));
    ByteArrayOutputStream controlTar = new ByteArrayOutputStream();
    Tar.writeGzip(controlTar, controlEntries, mtime, true);
    Path dataTar = out.resolve("deb-data.tar.gz");
    try (OutputStream d = Files.newOutputStream(dataTar)) {
      Tar.writeGzip(d, data, mtime, true);
    }
    Ar ar = new Ar(o, mtime);
    ar.add("debian-binary", "2.0\n".getBytes(StandardCharsets.US_ASCII));
    ar.add("control.tar.gz", controlTar.toByteArray());
    ar.add("data.tar.gz", Files.readAllBytes(dataTar));
    Files.delete(dataTar);
  }

  private static String digest(String algorithm, Entry e) throws IOException {
    try (InputStream in = e.open()) {
      MessageDigest md = MessageDigest.getInstance(algorithm);
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) > 0; ) {
        md.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException x) {
      throw new IllegalStateException(x);
    }
  }

  interface Writer {
    void write(OutputStream out) throws IOException;
  }

  private static void writeAtomically(Path file, Writer writer) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (OutputStream o = Files.newOutputStream(tmp)) {
      writer.write(o);
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static long treeSize(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  private static String mib(long bytes) {
    return String.format("%.1f MiB", bytes / 1048576.0);
  }
}
