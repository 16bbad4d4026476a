package io.edgefleet.testkit.k3s;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where tests get a {@code k3s} executable from: a real K3s named by the environment variable
 * {@value #ENV} (which then wins), otherwise the {@link K3sStandIn stand-in} launcher written by
 * {@link #standIn(String)}.
 */
public final class K3sBinaries {
  /** Environment variable naming a real K3s binary to test against instead of the stand-in. */
  public static final String ENV = "EDGEFLEET_IT_K3S";

  /** The version the stand-in reports unless told otherwise. */
  public static final String DEFAULT_VERSION = "v1.20.2+k3s1";

  /** The line of the launcher script that carries the version (read by the stand-in). */
  static final String VERSION_PREFIX = "EDGEFLEET_K3S_VERSION=";

  private static final Pattern VERSION = Pattern.compile("v\\d+\\.\\d+\\.\\d+\\+k3s\\d+");

  private K3sBinaries() {}

  /** The real K3s named by {@value #ENV}, if set. Fails if it is set but not an executable file. */
  public static Optional<Path> real() {
    String env = System.getenv(ENV);
    if (env == null || env.isBlank()) {
      return Optional.empty();
    }
    Path p = Path.of(env);
    if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
      throw new IllegalStateException(
          ENV + "=" + env + " is not an executable file: point it at a K3s binary or unset it");
    }
    return Optional.of(p);
  }

  /** The real K3s of {@value #ENV} if set, otherwise the stand-in of {@link #DEFAULT_VERSION}. */
  public static Path k3s() {
    return real().orElseGet(() -> standIn(DEFAULT_VERSION));
  }

  /** Whether tests run against a real K3s ({@value #ENV} set). */
  public static boolean isReal() {
    return real().isPresent();
  }

  /**
   * Writes a stand-in {@code k3s} launcher reporting {@code version} (like {@code v1.20.2+k3s1})
   * into a new temporary directory and returns its path. The launcher runs {@link K3sStandIn} with
   * this JVM and class path; the version is a line of the script, so launchers of different
   * versions have different contents and digests.
   */
  public static Path standIn(String version) {
    try {
      return standIn(version, Files.createTempDirectory("edgefleet-k3s-"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Like {@link #standIn(String)}, written as {@code dir/k3s}. */
  public static Path standIn(String version, Path dir) {
    if (version == null || !VERSION.matcher(version).matches()) {
      throw new IllegalArgumentException("K3s version must look like v1.20.2+k3s1, got " + version);
    }
    String java = ProcessHandle.current().info().command().orElse("java");
    String classPath =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    String script =
        "#!/bin/sh\n"
            + "# edgefleet k3s stand-in: real etcd and kube-apiserver, see"
            + " docs/decisions/0033-k3s-stand-in.md\n"
            + VERSION_PREFIX
            + "'"
            + version
            + "'\n"
            + "exec "
            + quote(java)
            + " -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Xmx192m -cp "
            + quote(classPath)
            + " "
            + K3sStandIn.class.getName()
            + " --launcher \"$0\" \"$@\"\n";
    try {
      Files.createDirectories(dir);
      Path file = dir.resolve("k3s");
      Files.writeString(file, script, StandardCharsets.UTF_8);
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }
}
