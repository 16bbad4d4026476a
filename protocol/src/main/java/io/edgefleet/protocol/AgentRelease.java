package io.edgefleet.protocol;

import io.edgefleet.protocol.tls.Signatures;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.regex.Pattern;

/**
 * A signed release of the agent for one CPU architecture: a {@code .tar.gz} (an {@link
 * AgentReleaseManifest} as {@code release.json} and the agent's jars under {@code lib/}) signed by
 * a release key with Ed25519. The same JSON is the detached signature file next to a release
 * ({@code FILE.sig}), what the controller keeps of a pushed release and what a device finds in its
 * desired state when it is to run the release. The signature covers {@link #statement} (version,
 * architecture and the digest of the file), so neither can be swapped without the key.
 *
 * @param version the agent version, as the agent reports it
 * @param arch the CPU architecture as the JVM names it ({@code os.arch}: {@code amd64}, {@code
 *     aarch64}), matched against the device's reported facts
 * @param digest {@code sha256:<64 lowercase hex>} of the release file
 * @param size the release file's length in bytes
 * @param keyId {@link Signatures#keyId} of the release key that signed it
 * @param signature base64 Ed25519 signature of {@link #statement}
 */
public record AgentRelease(
    String version, String arch, String digest, long size, String keyId, String signature) {

  /** A version an agent release may carry (a file name and a JSON string without escaping). */
  public static final Pattern VERSION = Pattern.compile("[0-9A-Za-z][0-9A-Za-z.+~_-]{0,63}");

  /** An architecture name. */
  public static final Pattern ARCH = Pattern.compile("[a-z0-9_]{1,20}");

  /** A content digest. */
  public static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  private static final String DOMAIN = "edgefleet-agent-release-v1";

  /** The exact bytes a release signature covers. */
  public static byte[] statement(String version, String arch, String digest, long size) {
    return (DOMAIN + "\n" + version + "\n" + arch + "\n" + digest + "\n" + size + "\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** Signs a release file's facts with a release key. */
  public static AgentRelease sign(
      PrivateKey key, PublicKey pub, String version, String arch, String digest, long size) {
    return new AgentRelease(
        version,
        arch,
        digest,
        size,
        Signatures.keyId(pub),
        Signatures.sign(key, statement(version, arch, digest, size)));
  }

  /** Whether the fields are well formed (not whether the signature holds). */
  public boolean wellFormed() {
    return version != null
        && VERSION.matcher(version).matches()
        && arch != null
        && ARCH.matcher(arch).matches()
        && digest != null
        && DIGEST.matcher(digest).matches()
        && size > 0
        && keyId != null
        && signature != null;
  }

  /** Whether {@code key} (whose id must be {@link #keyId}) signed exactly these facts. */
  public boolean signedBy(PublicKey key) {
    return wellFormed()
        && Signatures.keyId(key).equals(keyId)
        && Signatures.verify(key, statement(version, arch, digest, size), signature);
  }
}
