package io.edgefleet.controllerdist;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * Builds the controller's server software from the controller's runtime class path (run by the
 * build in the {@code package} phase):
 *
 * <ul>
 *   <li>a jlink runtime with only the JDK modules the controller needs ({@code
 *       controller-runtime/});
 *   <li>the tarball {@code edgefleet-controller-VERSION-linux-ARCH.tar.gz}: {@code
 *       bin/edgefleet-controller}, {@code runtime/}, {@code lib/*.jar}, the systemd unit, its
 *       sysusers.d entry and an example environment file;
 *   <li>the OCI image {@code edgefleet-controller-VERSION-linux-ARCH.oci.tar} (an OCI layout in one
 *       tar), with no base image: one layer holds the same runtime and jars under {@code /opt} and
 *       the system libraries the runtime loads, taken from the build machine.
 * </ul>
 *
 * Every archive is reproducible: sorted entries, numeric owners, one fixed time.
 */
public final class ControllerDist {
  static final String PACKAGE = "edgefleet-controller";

  /** Where the image keeps the distribution. */
  static final String IMAGE_HOME = "opt/edgefleet-controller";

  /** The image's volume: the controller's data directory is {@link #IMAGE_DATA_DIR} in it. */
  static final String IMAGE_DATA = "var/lib/edgefleet";

  /**
   * The controller's {@code --data} in the image: a directory the controller creates in the volume,
   * so that it owns it (it keeps its data directory 0700 and its own), whoever owns the volume's
   * root (on Kubernetes, root with the pod's fsGroup).
   */
  static final String IMAGE_DATA_DIR = IMAGE_DATA + "/controller";

  /** The image's user and group (numeric, so Kubernetes can check runAsNonRoot). */
  static final int IMAGE_UID = 10001;

  static final int PORT = 7443;

  /** The file naming what the build made. */
  static final String MADE = "controller-dist.properties";

  /** JVM options of every start: the native libraries (SQLite, Helm) need native access. */
  static final List<String> JAVA_OPTIONS =
      List.of(
          "--enable-native-access=ALL-UNNAMED",
          "-XX:+ExitOnOutOfMemoryError",
          "-Djava.awt.headless=true");

  private final Map<String, String> args;
  private final Path out;
  private final long mtime;

  private ControllerDist(Map<String, String> args) {
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
    new ControllerDist(args).build();
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

  /** The OCI and Go name of a JVM architecture. */
  static String arch(String osArch) {
    return switch (osArch) {
      case "amd64", "x86_64" -> "amd64";
      case "aarch64" -> "arm64";
      default -> throw new IllegalArgumentException("no image architecture known for " + osArch);
    };
  }

  static String baseName(String version, String arch) {
    return PACKAGE + "-" + version + "-linux-" + arch;
  }

  /** The image's start: the runtime's java on the jars, data in {@link #IMAGE_DATA_DIR}. */
  static List<String> entrypoint(String mainClass) {
    List<String> e = new ArrayList<>();
    e.add("/" + IMAGE_HOME + "/runtime/bin/java");
    e.addAll(JAVA_OPTIONS);
    // A container's memory limit is the heap's measure (the JVM reads the cgroup's limit).
    e.add("-XX:MaxRAMPercentage=70");
    e.add("-cp");
    e.add("/" + IMAGE_HOME + "/lib/*");
    e.add(mainClass);
    e.add("--data=/" + IMAGE_DATA_DIR);
    return List.copyOf(e);
  }

  private void build() throws IOException {
    long started = System.nanoTime();
    String version = arg("version");
    String arch = arch(System.getProperty("os.arch"));
    String mainClass = arg("main-class");
    Path dist = Path.of(arg("dist"));

    List<Node> jars = jars();
    Path runtime = jlink(arg("modules"));
    byte[] script =
        Files.readString(dist.resolve("bin/edgefleet-controller"))
            .replace("@MAIN_CLASS@", mainClass)
            .replace("@JAVA_OPTIONS@", String.join(" ", JAVA_OPTIONS))
            .getBytes(StandardCharsets.UTF_8);

    List<Node> home = new ArrayList<>();
    home.add(Node.file("bin/edgefleet-controller", 0755, script));
    home.addAll(tree(runtime, "runtime"));
    home.addAll(jars);

    String base = baseName(version, arch);
    List<Node> tarball = new ArrayList<>();
    home.forEach(n -> tarball.add(n.under(base)));
    tarball.add(
        Node.file(
            base + "/systemd/edgefleet-controller.service",
            0644,
            dist.resolve("edgefleet-controller.service")));
    tarball.add(
        Node.file(
            base + "/systemd/edgefleet-controller.sysusers",
            0644,
            dist.resolve("edgefleet-controller.sysusers")));
    tarball.add(Node.file(base + "/controller.env", 0640, dist.resolve("controller.env")));
    Path tarballFile = out.resolve(base + ".tar.gz");
    writeAtomically(
        tarballFile,
        o -> {
          GZIPOutputStream gz = new GZIPOutputStream(o, 1 << 16);
          ReproducibleTar.write(gz, tarball, mtime);
          gz.finish();
        });

    List<Node> layer = new ArrayList<>();
    home.forEach(n -> layer.add(n.under(IMAGE_HOME)));
    layer.addAll(ImageSystem.files(runtime, IMAGE_UID, "/" + IMAGE_DATA));
    layer.add(Node.directory(IMAGE_DATA).ownedBy(IMAGE_UID, 0700));
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("org.opencontainers.image.title", "edgefleet controller");
    labels.put(
        "org.opencontainers.image.description",
        "The edgefleet controller: REST API, enrollment and the agents' connections (HTTPS on "
            + PORT
            + ").");
    labels.put("org.opencontainers.image.version", version);
    labels.put("org.opencontainers.image.created", Instant.ofEpochSecond(mtime).toString());
    labels.put("org.opencontainers.image.licenses", "Apache-2.0");
    labels.put("org.opencontainers.image.vendor", "edgefleet");
    String refName = PACKAGE + ":" + version.toLowerCase(java.util.Locale.ROOT);
    OciImage.Config config =
        new OciImage.Config(
            refName,
            entrypoint(mainClass),
            List.of(),
            List.of(
                "PATH=/" + IMAGE_HOME + "/runtime/bin:/usr/bin:/bin",
                "JAVA_HOME=/" + IMAGE_HOME + "/runtime",
                "HOME=/" + IMAGE_DATA),
            IMAGE_UID + ":" + IMAGE_UID,
            "/" + IMAGE_DATA,
            List.of(PORT + "/tcp", "7444/tcp"),
            labels);
    Path imageFile = out.resolve(base + ".oci.tar");
    Path tmp = imageFile.resolveSibling(imageFile.getFileName() + ".tmp");
    OciImage.Written image = OciImage.write(tmp, out, layer, config, mtime);
    Files.move(tmp, imageFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

    // What this build made, for the tests (a target/ not cleaned may hold an older version's).
    Properties made = new Properties();
    made.setProperty("version", version);
    made.setProperty("arch", arch);
    made.setProperty("runtime", runtime.getFileName().toString());
    made.setProperty("tarball", tarballFile.getFileName().toString());
    made.setProperty("tarball.prefix", base);
    made.setProperty("image", imageFile.getFileName().toString());
    made.setProperty("image.ref", refName);
    made.setProperty("image.manifest", image.manifestDigest());
    made.setProperty("image.config", image.configDigest());
    made.setProperty("image.layer", image.layerDigest());
    made.setProperty("image.diffid", image.diffId());
    try (var w = Files.newBufferedWriter(out.resolve(MADE))) {
      made.store(w, null);
    }
    System.out.printf(
        "controller runtime %s (%s), %s (%s), image %s (%s, %s) in %.1f s%n",
        runtime.getFileName(),
        mib(treeSize(runtime)),
        tarballFile.getFileName(),
        mib(Files.size(tarballFile)),
        imageFile.getFileName(),
        mib(Files.size(imageFile)),
        image.manifestDigest(),
        (System.nanoTime() - started) / 1e9);
  }

  /** The jars of the controller's class path as {@code lib/NAME.jar}, names unique. */
  private List<Node> jars() throws IOException {
    Map<String, Path> jars = new java.util.TreeMap<>();
    String classpath = Files.readString(Path.of(arg("classpath-file"))).strip();
    for (String element : classpath.split(java.io.File.pathSeparator)) {
      Path jar = Path.of(element);
      if (!element.endsWith(".jar") || !Files.isRegularFile(jar)) {
        throw new IllegalStateException(
            "the controller's class path holds "
                + element
                + ", not a jar (build the controller module first)");
      }
      // The archive writer the build uses is no part of the controller... unless the controller
      // uses it too (it does, for catalog uploads): then it stays.
      Path earlier = jars.put(jar.getFileName().toString(), jar);
      if (earlier != null && !earlier.equals(jar)) {
        throw new IllegalStateException("two jars named " + jar.getFileName() + ": " + earlier);
      }
    }
    List<Node> nodes = new ArrayList<>();
    jars.forEach((name, path) -> nodes.add(Node.file("lib/" + name, 0644, path)));
    return nodes;
  }

  /**
   * The runtime in {@code out/controller-runtime}, made by jlink of the JDK running the build; kept
   * across builds while the JDK and the module list stay the same.
   */
  private Path jlink(String modules) throws IOException {
    Path runtime = out.resolve("controller-runtime");
    Path stamp = out.resolve("controller-runtime.stamp");
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
  static List<Node> tree(Path dir, String into) throws IOException {
    List<Node> entries = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted().toList()) {
        if (p.equals(dir)) {
          continue;
        }
        String path = into + "/" + dir.relativize(p).toString().replace('\\', '/');
        if (Files.isDirectory(p)) {
          entries.add(Node.directory(path));
        } else if (Files.isRegularFile(p)) {
          entries.add(Node.file(path, Files.isExecutable(p) ? 0755 : 0644, p.toRealPath()));
        } else {
          throw new IllegalStateException("neither a file nor a directory: " + p);
        }
      }
    }
    return entries;
  }

  interface Writer {
    void write(OutputStream out) throws IOException;
  }

  private static void writeAtomically(Path file, Writer writer) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
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
