package io.edgefleet.controllerdist;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The shared libraries of this machine that a Java runtime's programs and libraries load, found
 * with {@code ldd}: what an image without a base must carry for the runtime to start (the C
 * library, its dynamic loader, libz, libm, libgcc_s and the like).
 */
final class SharedLibraries {
  /**
   * {@code libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)} or {@code /lib64/ld-... (0x...)}.
   */
  private static final Pattern RESOLVED =
      Pattern.compile("(?:=>\\s*)?(/\\S+)\\s+\\(0x[0-9a-f]+\\)");

  /**
   * The runtime's graphics and sound libraries: a server runs headless and never loads them, so
   * what they need (X11, ALSA) stays out of the image.
   */
  static final java.util.Set<String> HEADLESS_UNUSED =
      java.util.Set.of("libawt_xawt.so", "libjsound.so", "libsplashscreen.so");

  private static final Pattern MISSING = Pattern.compile("(\\S+)\\s+=>\\s+not found");

  private SharedLibraries() {}

  /**
   * The absolute paths (as the loader looks them up, links not followed) of every library the ELF
   * files under {@code runtime} need, sorted.
   *
   * @throws IllegalStateException if {@code ldd} is missing or a library is not on this machine
   */
  static List<String> neededBy(Path runtime) throws IOException {
    TreeSet<String> libraries = new TreeSet<>();
    List<Path> elves = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(runtime)) {
      for (Path p : walk.filter(Files::isRegularFile).sorted().toList()) {
        if (isElf(p) && !HEADLESS_UNUSED.contains(p.getFileName().toString())) {
          elves.add(p);
        }
      }
    }
    if (elves.isEmpty()) {
      throw new IllegalStateException("no programs or libraries in " + runtime);
    }
    java.util.Set<String> own = new java.util.HashSet<>();
    elves.forEach(e -> own.add(e.getFileName().toString()));
    String root = runtime.toAbsolutePath().normalize() + "/";
    for (Path elf : elves) {
      libraries.addAll(parse(ldd(elf), elf, root, own));
    }
    return List.copyOf(libraries);
  }

  /**
   * The libraries named by one {@code ldd} output, those of the runtime itself (under {@code root}
   * or named in {@code own}: found through {@code $ORIGIN} when the runtime runs) left out.
   */
  static List<String> parse(String lddOutput, Path elf, String root, java.util.Set<String> own) {
    List<String> found = new ArrayList<>();
    for (String line : lddOutput.lines().toList()) {
      Matcher missing = MISSING.matcher(line);
      if (missing.find()) {
        if (!own.contains(missing.group(1))) {
          throw new IllegalStateException(elf + " needs " + missing.group(1) + ", not found");
        }
        continue;
      }
      Matcher m = RESOLVED.matcher(line);
      if (m.find() && !m.group(1).startsWith(root)) {
        found.add(m.group(1));
      }
    }
    return found;
  }

  private static boolean isElf(Path p) throws IOException {
    try (var in = Files.newInputStream(p)) {
      byte[] magic = in.readNBytes(4);
      return magic.length == 4
          && magic[0] == 0x7f
          && magic[1] == 'E'
          && magic[2] == 'L'
          && magic[3] == 'F';
    }
  }

  private static String ldd(Path elf) throws IOException {
    Process p = new ProcessBuilder("ldd", elf.toString()).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("ldd " + elf + " did not finish within 60 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    return out;
  }
}
