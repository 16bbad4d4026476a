package io.edgefleet.controller.gitops;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PublicKey;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import org.apache.sshd.common.NamedResource;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.util.security.SecurityUtils;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.sshd.ServerKeyDatabase;

/** Reading ssh private and public keys, and pinning a git server's host key. Stateless. */
final class SshKeys {
  private SshKeys() {}

  /**
   * The key pair of an unencrypted private key in OpenSSH or PEM (PKCS#1, PKCS#8) text.
   *
   * @throws IllegalArgumentException saying what is wrong with the text
   */
  static KeyPair privateKey(String text) {
    try (InputStream in = new ByteArrayInputStream(text.strip().getBytes(StandardCharsets.UTF_8))) {
      Iterable<KeyPair> pairs =
          SecurityUtils.loadKeyPairIdentities(null, NamedResource.ofName("sshKey"), in, null);
      Iterator<KeyPair> it = pairs == null ? null : pairs.iterator();
      if (it == null || !it.hasNext()) {
        throw new IllegalArgumentException(
            "sshKey holds no private key; give the text of an OpenSSH or PEM private key file");
      }
      return it.next();
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      if (e instanceof IllegalArgumentException i && i.getMessage().startsWith("sshKey")) {
        throw i;
      }
      throw new IllegalArgumentException(
          "sshKey cannot be read ("
              + e.getMessage()
              + "); give an unencrypted OpenSSH or PEM private key (a deploy key without"
              + " passphrase)",
          e);
    }
  }

  /**
   * A public key from {@code ssh-ed25519 AAAA… [comment]} or a known_hosts line {@code host
   * ssh-ed25519 AAAA…}.
   *
   * @throws IllegalArgumentException if no key can be read
   */
  static PublicKey publicKey(String line) {
    String[] parts = line.strip().split("\\s+");
    for (int i = 0; i < parts.length - 1; i++) {
      String t = parts[i];
      if (t.startsWith("ssh-") || t.startsWith("ecdsa-") || t.startsWith("sk-")) {
        try {
          PublicKeyEntry e = PublicKeyEntry.parsePublicKeyEntry(t + " " + parts[i + 1]);
          PublicKey k = e.resolvePublicKey(null, null, null);
          if (k != null) {
            return k;
          }
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
          throw new IllegalArgumentException(
              "sshHostKey cannot be read (" + e.getMessage() + ")", e);
        }
      }
    }
    throw new IllegalArgumentException(
        "sshHostKey must be a public key line such as 'ssh-ed25519 AAAA…' (see ssh-keyscan)");
  }

  /** {@code ssh-ed25519 AAAA…}. */
  static String openSsh(PublicKey key) {
    return PublicKeyEntry.toString(key);
  }

  /** {@code SHA256:…}, as ssh prints it. */
  static String fingerprint(PublicKey key) {
    return KeyUtils.getFingerPrint(key);
  }

  /**
   * Host key checking with one pinned key per source: the pinned key must match; without a pinned
   * key the first key seen is accepted and reported by {@link #firstSeen()} so it can be pinned.
   * Thread-safe.
   */
  static final class Pin implements ServerKeyDatabase {
    private volatile PublicKey pinned;
    private volatile PublicKey firstSeen;
    private volatile PublicKey rejected;

    Pin(Optional<PublicKey> pinned) {
      this.pinned = pinned.orElse(null);
    }

    void pin(PublicKey key) {
      pinned = key;
    }

    Optional<PublicKey> pinned() {
      return Optional.ofNullable(pinned);
    }

    /** The key accepted without a pin, once; cleared by reading. */
    Optional<PublicKey> firstSeen() {
      PublicKey k = firstSeen;
      firstSeen = null;
      return Optional.ofNullable(k);
    }

    /** The mismatching key of the last rejected connection, once; cleared by reading. */
    Optional<PublicKey> rejected() {
      PublicKey k = rejected;
      rejected = null;
      return Optional.ofNullable(k);
    }

    @Override
    public List<PublicKey> lookup(
        String connectAddress, InetSocketAddress remoteAddress, Configuration config) {
      PublicKey p = pinned;
      return p == null ? List.of() : List.of(p);
    }

    @Override
    public boolean accept(
        String connectAddress,
        InetSocketAddress remoteAddress,
        PublicKey serverKey,
        Configuration config,
        CredentialsProvider provider) {
      PublicKey p = pinned;
      if (p == null) {
        firstSeen = serverKey;
        pinned = serverKey;
        return true;
      }
      if (KeyUtils.compareKeys(p, serverKey)) {
        return true;
      }
      rejected = serverKey;
      return false;
    }
  }
}
