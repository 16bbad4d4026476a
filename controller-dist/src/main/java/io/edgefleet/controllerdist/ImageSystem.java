package io.edgefleet.controllerdist;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The operating system files of an image without a base, "distroless": the shared libraries the
 * Java runtime loads (from this machine, as {@code ldd} finds them), the user and group the
 * controller runs as, name service settings, CA certificates and {@code /tmp}. No shell, no package
 * manager, nothing else to patch.
 */
final class ImageSystem {
  /** Debian's bundle of the system's trusted CAs (for S3 stores, OIDC issuers, webhooks). */
  static final Path CA_BUNDLE = Path.of("/etc/ssl/certs/ca-certificates.crt");

  private ImageSystem() {}

  /**
   * The files, as layer entries.
   *
   * @param runtime the jlink runtime whose programs and libraries must load
   * @param uid the user (and group) the controller runs as
   * @param home that user's home directory
   */
  static List<Node> files(Path runtime, int uid, String home) throws IOException {
    List<Node> files = new ArrayList<>();
    for (String library : SharedLibraries.neededBy(runtime)) {
      // As the loader looks it up (its own name, e.g. libz.so.1), with the bytes of the file the
      // link points to.
      files.add(Node.file(library.substring(1), 0755, Path.of(library).toRealPath()));
    }
    files.add(
        Node.file(
            "etc/passwd",
            0644,
            bytes(
                "root:x:0:0:root:/root:/sbin/nologin\n"
                    + "edgefleet:x:"
                    + uid
                    + ":"
                    + uid
                    + ":edgefleet controller:"
                    + home
                    + ":/sbin/nologin\n")));
    files.add(Node.file("etc/group", 0644, bytes("root:x:0:\nedgefleet:x:" + uid + ":\n")));
    files.add(
        Node.file(
            "etc/nsswitch.conf", 0644, bytes("passwd: files\ngroup: files\nhosts: files dns\n")));
    if (!Files.isRegularFile(CA_BUNDLE)) {
      throw new IllegalStateException(
          CA_BUNDLE + " is missing: install the ca-certificates package to build the image");
    }
    files.add(Node.file("etc/ssl/certs/ca-certificates.crt", 0644, CA_BUNDLE.toRealPath()));
    files.add(new Node("tmp", 01777, 0, null, null));
    return files;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
