package io.edgefleet.e2e.agentupdates;

import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.AgentReleaseManifest;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.GZIPOutputStream;

/**
 * Builds agent releases as the release pipeline does: a directory with {@code release.json} and
 * {@code lib/*.jar} (the agent and its runtime dependencies, taken from this test's class path),
 * packed as a gzip tar and signed with a release key.
 */
final class ReleaseBuilder {
  /** The class path entries the agent needs at run time (module directories are jarred). */
  private static final List<String> AGENT_PARTS =
      List.of(
          "edgefleet-agent",
          "edgefleet-protocol",
          "edgefleet-device",
          "edgefleet-picocli",
          "/agent/target/classes",
          "/protocol/target/classes",
          "/device/target/classes",
          "/picocli/target/classes",
          "bcpkix-",
          "bcprov-",
          "bcutil-",
          "qrcodegen",
          "slf4j-api",
          "snakeyaml",
          "/jna-",
          "jackson-");

  static final String MAIN = "io.edgefleet.agent.command.AgentMain";

  private final Path jars;

  /** Collects the agent's jars once into {@code dir}. */
  ReleaseBuilder(Path dir) throws IOException {
    this.jars = Files.createDirectories(dir.resolve("agent-jars"));
    String cp =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    int n = 0;
    for (String entry : cp.split(java.io.File.pathSeparator)) {
      String e = entry.replace('\\', '/');
      if (AGENT_PARTS.stream().noneMatch(e::contains)) {
        continue;
      }
      Path p = Path.of(entry);
      if (Files.isDirectory(p)) {
        jarDirectory(p, jars.resolve("part-" + n++ + ".jar"));
      } else if (Files.isRegularFile(p)) {
        Files.copy(p, jars.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  /**
   * Writes a release into {@code dir}: {@code release.json} and the agent's jars, plus {@code
   * paddingBytes} of incompressible content in a jar of its own when positive.
   */
  Path directory(
      Path dir, String version, String mainClass, List<String> javaOptions, long paddingBytes)
      throws IOException {
    Path lib = Files.createDirectories(dir.resolve("lib"));
    try (Stream<Path> all = Files.list(jars)) {
      for (Path j : (Iterable<Path>) all::iterator) {
        Files.copy(j, lib.resolve(j.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    if (paddingBytes > 0) {
      padding(lib.resolve("zz-padding.jar"), paddingBytes);
    }
    Files.writeString(
        dir.resolve("release.json"),
        Json.pretty(
            new AgentReleaseManifest(
                AgentReleaseManifest.FORMAT,
                version,
                System.getProperty("os.arch"),
                mainClass,
                javaOptions)));
    return dir;
  }

  /** Packs a release directory as {@code edgefleet-agent-<version>-linux-<arch>.tar.gz}. */
  static Path tarGz(Path releaseDir, Path outDir, String version) throws IOException {
    Path file =
        outDir.resolve(
            "edgefleet-agent-" + version + "-linux-" + System.getProperty("os.arch") + ".tar.gz");
    List<Path> entries = new ArrayList<>();
    entries.add(releaseDir.resolve("release.json"));
    entries.add(releaseDir.resolve("lib"));
    try (Stream<Path> libs = Files.list(releaseDir.resolve("lib")).sorted()) {
      libs.forEach(entries::add);
    }
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file), 1 << 16)) {
      for (Path p : entries) {
        String name = releaseDir.relativize(p).toString().replace('\\', '/');
        if (Files.isDirectory(p)) {
          out.write(header(name + "/", '5', 0));
        } else {
          long size = Files.size(p);
          out.write(header(name, '0', size));
          Files.copy(p, out);
          out.write(new byte[(int) ((512 - size % 512) % 512)]);
        }
      }
      out.write(new byte[1024]);
    }
    return file;
  }

  /** The signed facts of a release file. */
  static AgentRelease sign(KeyPair key, Path file, String version) throws Exception {
    return AgentRelease.sign(
        key.getPrivate(),
        key.getPublic(),
        version,
        System.getProperty("os.arch"),
        digest(file),
        Files.size(file));
  }

  static String digest(Path file) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return "sha256:" + HexFormat.of().formatHex(md.digest());
  }

  private static byte[] header(String name, char type, long size) {
    byte[] h = new byte[512];
    put(h, 0, name);
    put(h, 100, type == '5' ? "0000755" : "0000644");
    put(h, 108, "0000000");
    put(h, 116, "0000000");
    put(h, 124, String.format("%011o", size));
    put(h, 136, String.format("%011o", 1_700_000_000L));
    h[156] = (byte) type;
    put(h, 257, "ustar");
    put(h, 263, "00");
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o", sum));
    h[154] = 0;
    h[155] = ' ';
    return h;
  }

  private static void put(byte[] h, int off, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > 100 && off == 0) {
      throw new IllegalArgumentException("name too long for this builder: " + s);
    }
    System.arraycopy(b, 0, h, off, b.length);
  }

  private static void jarDirectory(Path dir, Path jar) throws IOException {
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
        Stream<Path> files = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (Files.isRegularFile(f)) {
          out.putNextEntry(new JarEntry(dir.relativize(f).toString().replace('\\', '/')));
          Files.copy(f, out);
          out.closeEntry();
        }
      }
    }
  }

  /** A valid jar holding {@code bytes} of random, stored (uncompressed) content. */
  private static void padding(Path jar, long bytes) throws IOException {
    byte[] data = new byte[(int) bytes];
    new Random(42).nextBytes(data);
    CRC32 crc = new CRC32();
    crc.update(data);
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
      JarEntry e = new JarEntry("padding.bin");
      e.setMethod(JarEntry.STORED);
      e.setSize(data.length);
      e.setCompressedSize(data.length);
      e.setCrc(crc.getValue());
      out.putNextEntry(e);
      out.write(data);
      out.closeEntry();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }
}
