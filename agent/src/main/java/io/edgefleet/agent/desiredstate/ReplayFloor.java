package io.edgefleet.agent.desiredstate;

import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The highest desired-state generation this device ever accepted from its controller, in its own
 * small file ({@code replay-floor.json} in the state directory) apart from the stored document. A
 * document at or below the floor is a replay, even when the stored document is lost or damaged and
 * the device holds nothing: without the floor, an older genuinely signed document would be taken
 * again.
 *
 * <p>The floor belongs to one enrollment: a file written for another device id is ignored. Each
 * write is atomic and synced before {@link #raise} returns. Not thread-safe; the agent serialises
 * access and only ever raises the floor.
 */
public final class ReplayFloor {
  static final String FILE = "replay-floor.json";

  private final Path file;

  /** What the file holds. */
  record Stored(String deviceId, long generation) {}

  public ReplayFloor(Path stateDir) {
    this.file = stateDir.resolve(FILE);
  }

  public Path file() {
    return file;
  }

  /**
   * The floor stored for {@code deviceId}: 0 if there is none or it was written for another
   * enrollment; empty if the file exists but cannot be read (then the caller decides what to trust
   * instead).
   */
  public OptionalLong load(String deviceId) {
    if (!Files.exists(file)) {
      return OptionalLong.of(0);
    }
    try {
      Stored s = JsonCodec.read(Files.readString(file), Stored.class);
      if (s == null || s.generation() < 0) {
        return OptionalLong.empty();
      }
      return OptionalLong.of(deviceId.equals(s.deviceId()) ? s.generation() : 0);
    } catch (IOException | RuntimeException e) {
      return OptionalLong.empty();
    }
  }

  /**
   * Stores {@code generation} as the floor of {@code deviceId}, durably; call before the document
   * of that generation becomes the one in effect.
   *
   * @throws UncheckedIOException if it cannot be written; the old floor is then intact
   */
  public void raise(String deviceId, long generation) {
    SecureFiles.writeSecret(file, JsonCodec.write(new Stored(deviceId, generation)) + "\n");
  }
}
