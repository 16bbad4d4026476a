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
 * A signed jar without its signature, for the release's {@code lib/}. A signed jar costs the agent
 * memory on every start: the JDK reads its manifest with one section per class (Bouncy Castle's
 * three jars carry about 7,000) and keeps them, and verifies each class it loads against them —
 * about 10 MB of heap and thousands of objects for nothing, since the release as a whole is signed
 * and its digest checked before it is staged. The copy keeps every other entry byte for byte, in
 * order, with its time, and the manifest's main section only.
 */
final class UnsignedJar {
  private UnsignedJar() {}

  /** The jar without its signature, or empty when it is not signed. */
  static Optional<byte[]> strip(Path jar) throws IOException {
    if (!signed(jar)) {
      return Optional.empty();
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream((int) Files.size(jar));
    try (ZipInputStream in = new ZipInputStream(Files.newInputStream(jar));
        ZipOutputStream out = new ZipOutputStream(bytes)) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        if (signatureFile(e.getName())) {
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

  /** Whether the jar carries a signature file. */
  static boolean signed(Path jar) throws IOException {
    try (InputStream raw = Files.newInputStream(jar);
        ZipInputStream in = new ZipInputStream(raw)) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        if (signatureFile(e.getName())) {
          return true;
        }
      }
    }
    return false;
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
