package io.edgefleet.agent;

import io.edgefleet.protocol.DeviceSecret;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The controller's device routes a K3s node needs, over the device's mutual-TLS channel. Every
 * method blocks (bounded by the transfer watchdog): call it off the agent's own threads.
 */
public interface ControllerAccess {
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
