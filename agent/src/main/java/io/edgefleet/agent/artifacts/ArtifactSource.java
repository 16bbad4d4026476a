package io.edgefleet.agent.artifacts;

import io.edgefleet.agent.ControllerAccess;
import io.edgefleet.protocol.ArtifactChunks;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where the device fetches artifacts from: the controller over the device's own connection today; a
 * site neighbour's cache on the LAN is a second source of the same shape. Every method blocks,
 * bounded by the source's own stall detection: call it off the agent's threads.
 */
public interface ArtifactSource {

  /** Takes the bytes of a range as they arrive, in order. */
  @FunctionalInterface
  interface Receiver {
    /** Takes the next bytes; throwing stops the transfer and the exception ends it. */
    void take(ByteBuffer bytes) throws IOException;
  }

  /** Names the source in reports and events ("the controller"). */
  String name();

  /**
   * The artifact's chunk digests.
   *
   * @throws IOException if the source cannot be reached, does not hold the artifact, or answers
   *     nonsense
   */
  ArtifactChunks chunks(String digest) throws IOException;

  /**
   * Hands bytes {@code from} to {@code end - 1} of the artifact to {@code receiver} as they arrive.
   *
   * @return the bytes received
   * @throws IOException if the transfer fails, stalls or is cut, or {@code receiver} stopped it
   *     (then with the receiver's exception)
   */
  long range(String digest, long from, long end, Receiver receiver) throws IOException;

  /** The controller as a source, through the agent's own transfers and their stall detection. */
  static ArtifactSource controller(ControllerAccess access) {
    return new ArtifactSource() {
      @Override
      public String name() {
        return "the controller";
      }

      @Override
      public ArtifactChunks chunks(String digest) throws IOException {
        return access.chunks(digest);
      }

      @Override
      public long range(String digest, long from, long end, Receiver receiver) throws IOException {
        return access.range(digest, from, end, receiver::take);
      }
    };
  }
}
