package io.edgefleet.agentdist;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * A library jar as the release's {@code lib/} holds it: without what costs the agent memory on
 * every start and buys it nothing (decision 0041).
 *
 * <ul>
 *   <li><b>Its signature.</b> The JDK reads a signed jar's manifest with one section per class
 *       (Bouncy Castle's jars carry about 7,000) and keeps them, and verifies each class it loads
 *       against them: about 10 MB of heap, for nothing, since the release as a whole is signed and
 *       its digest checked before it is staged. The manifest keeps its main section only.
 *   <li><b>Its registration as a security provider</b> ({@code
 *       META-INF/services/java.security.Provider}). The agent calls Bouncy Castle's Ed25519
 *       arithmetic directly and needs no provider from it; but registered, the JDK instantiates it
 *       the first time a TLS handshake looks through the installed providers, and it then loads and
 *       registers some 700 classes of algorithms the agent never uses.
 * </ul>
 *
 * The copy keeps every other entry byte for byte, in order, with its time.
 */
final class ReleaseJar {
  /** The service file that registers JCA providers. */
  static final String PROVIDER_SERVICE = "META-INF/services/java.security.Provider";

  private ReleaseJar() {}

  /** The jar as the release holds it, or empty when that is the jar as it is. */
  static Optional<byte[]> of(Path jar) throws IOException {
    if (!needsChange(jar)) {
      return Optional.empty();
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream((int) Files.size(jar));
    try (ZipInputStream in = new ZipInputStream(Files.newInputStream(jar));
        ZipOutputStream out = new ZipOutputStream(bytes)) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        if (dropped(e.getName())) {
          continue;
        }
        ZipEntry copy = new ZipEntry(e.getName());
        copy.setTime(e.getTime());
        out.putNextEntry(copy);
        if (e.getName().equalsIgnoreCase("META-INF/MANIFEST.MF")) {
          Manifest main = new Manifest();
          main.getMainAttributes().putAll(new Manifest(in).getMainAttributes());
          main.write(out);
        } else {
          in.transferTo(out);
        }
        out.closeEntry();
      }
    }
    return Optional.of(bytes.toByteArray());
  }

  /** Whether the jar carries a signature file or a provider registration. */
  static boolean needsChange(Path jar) throws IOException {
    try (InputStream raw = Files.newInputStream(jar);
        ZipInputStream in = new ZipInputStream(raw)) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        if (dropped(e.getName())) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean dropped(String name) {
    return signatureFile(name) || name.equals(PROVIDER_SERVICE);
  }

  private static boolean signatureFile(String name) {
    String n = name.toUpperCase(Locale.ROOT);
    if (!n.startsWith("META-INF/") || n.indexOf('/', "META-INF/".length()) >= 0) {
      return false;
    }
    return n.endsWith(".SF")
        || n.endsWith(".RSA")
        || n.endsWith(".DSA")
        || n.endsWith(".EC")
        || (n.startsWith("META-INF/SIG-") && !n.endsWith(".MF"));
  }
}
