package io.edgefleet.agent;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.DeviceSecret;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The controller's device routes a K3s node and the artifact cache need, over the device's
 * mutual-TLS channel. Every method blocks (bounded by the transfer watchdog): call it off the
 * agent's own threads.
 */
public interface ControllerAccess {

  /** Takes the bytes of a ranged download as they arrive, in order. */
  @FunctionalInterface
  interface Receiver {
    /**
     * Takes the next bytes; throwing stops the transfer (the connection is closed) and the
     * exception completes it.
     */
    void take(ByteBuffer bytes) throws IOException;
  }

  /**
   * {@code GET /device/v1/artifacts/{digest}/chunks}: the artifact's chunk digests.
   *
   * @throws IOException if the controller cannot be reached, refuses, or answers nonsense
   */
  default ArtifactChunks chunks(String digest) throws IOException {
    throw new IOException("this controller access serves no artifact chunks");
  }

  /**
   * {@code GET /device/v1/artifacts/{digest}} with {@code Range: bytes=from-(end-1)}: hands the
   * bytes to {@code receiver} as they arrive, under the stall watchdog.
   *
   * @return the bytes received
   * @throws IOException if the controller cannot be reached, refuses, the transfer is cut or
   *     stalls, or {@code receiver} stopped it
   */
  default long range(String digest, long from, long end, Receiver receiver) throws IOException {
    throw new IOException("this controller access serves no artifact ranges");
  }

  /**
   * Downloads {@code GET /device/v1/artifacts/{digest}} into {@code file}, resuming a partial
   * download an earlier try left next to it.
   *
   * @throws IOException if the controller cannot be reached, refuses, or the transfer is cut
   */
  void download(String digest, Path file, long maxBytes) throws IOException;

  /**
   * {@code GET /device/v1/clusters/{name}/token?version=}: the join token sealed to this device.
   */
  DeviceSecret token(String cluster, long version) throws IOException;

  /** The local address of this device's connection to the controller. */
  String localAddress() throws IOException;
}
