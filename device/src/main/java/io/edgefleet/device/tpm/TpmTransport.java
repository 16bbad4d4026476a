package io.edgefleet.device.tpm;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;

/**
 * Carries raw TPM 2.0 commands to a TPM and its responses back: the kernel's resource manager
 * ({@code /dev/tpmrm0}), or the data channel of a software TPM ({@code tcp://host:port}, {@code
 * unix:///path}). A response is read in full but never beyond {@link #MAX_RESPONSE} bytes.
 */
public interface TpmTransport extends AutoCloseable {

  /**
   * The largest response read: TPM 2.0 devices answer at most TPM_PT_MAX_RESPONSE_SIZE bytes (4096
   * on PC Client TPMs and swtpm), with room to spare.
   */
  int MAX_RESPONSE = 8 * 1024;

  /** Sends one command and returns its whole response. */
  byte[] transact(byte[] command) throws IOException;

  /** Whether handles of transient objects are private to this connection (a resource manager). */
  boolean resourceManaged();

  /** Where this transport leads, for messages. */
  String endpoint();

  @Override
  void close();

  /**
   * Opens {@code spec}: a device path ({@code /dev/tpmrm0}), {@code tcp://host:port} or {@code
   * unix:///path/to/socket} (a swtpm data channel).
   *
   * @throws IllegalArgumentException if {@code spec} is neither
   * @throws IOException if it cannot be opened
   */
  static TpmTransport open(String spec) throws IOException {
    if (spec == null || spec.isBlank()) {
      throw new IllegalArgumentException(
          "no TPM given: use a device path, tcp://HOST:PORT or" + " unix:///PATH");
    }
    if (spec.startsWith("tcp://") || spec.startsWith("unix://")) {
      URI uri;
      try {
        uri = URI.create(spec);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "not a TPM address: " + spec + " (" + e.getMessage() + ")");
      }
      if (spec.startsWith("tcp://")) {
        if (uri.getHost() == null || uri.getPort() < 1) {
          throw new IllegalArgumentException(
              "a TCP TPM address needs a host and a port: tcp://127.0.0.1:2321, not " + spec);
        }
        return SocketTpmTransport.tcp(uri.getHost(), uri.getPort());
      }
      if (uri.getPath() == null || uri.getPath().isEmpty()) {
        throw new IllegalArgumentException(
            "a Unix socket TPM address needs a path: unix:///run/swtpm/sock, not " + spec);
      }
      return SocketTpmTransport.unix(Path.of(uri.getPath()));
    }
    if (spec.contains("://")) {
      throw new IllegalArgumentException(
          "unknown TPM address " + spec + ": use a device path, tcp://HOST:PORT or unix:///PATH");
    }
    return DeviceTpmTransport.open(Path.of(spec));
  }
}
