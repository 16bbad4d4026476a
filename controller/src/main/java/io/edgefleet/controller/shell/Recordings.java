package io.edgefleet.controller.shell;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The recordings of shell sessions: one asciicast v2 file per session under the data directory
 * ({@code recordings/<session>.cast}), bounded by {@link #maxBytes}, and a row that says whose it
 * is, how large and whether it was cut. Thread-safe.
 */
public final class Recordings {
  private static final Logger LOG = LoggerFactory.getLogger(Recordings.class);

  /** The bound of one recording when the controller is not told otherwise. */
  public static final long DEFAULT_MAX_BYTES = 16L << 20;

  /** The media type of asciicast v2. */
  public static final String MEDIA_TYPE = "application/x-asciicast";

  private static final Pattern SESSION_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

  /** A recording as the API describes it. */
  public record Meta(
      String sessionId,
      String deviceId,
      String actor,
      int cols,
      int rows,
      Instant startedAt,
      Instant endedAt,
      long bytes,
      boolean truncated,
      Integer exitCode,
      String endReason) {}

  /** Finds a device's tags, for the caller's visibility. */
  @FunctionalInterface
  public interface DeviceTags {
    Optional<Map<String, String>> of(String deviceId);
  }

  private final Jdbi jdbi;
  private final Clock clock;
  private final Path dir;
  private final long maxBytes;
  private final DeviceTags tags;

  public Recordings(Jdbi jdbi, Clock clock, Path dir, long maxBytes, DeviceTags tags) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.tags = tags;
  }

  public long maxBytes() {
    return maxBytes;
  }

  /**
   * Ends the recordings a previous run of the controller left open (their shells ended with it);
   * call once at start.
   */
  public int recover() {
    return jdbi.withHandle(
        h ->
            h.createUpdate(
                    "UPDATE shell_recordings SET ended_at = :now, end_reason = 'the controller"
                        + " stopped' WHERE ended_at IS NULL")
                .bind("now", clock.millis())
                .execute());
  }

  /** Starts recording a session. */
  public Recorder start(
      String sessionId, String deviceId, String actor, int cols, int rows, String term)
      throws IOException {
    if (!SESSION_ID.matcher(sessionId).matches()) {
      throw new IllegalArgumentException("not a session id: " + sessionId);
    }
    Path file = dir.resolve(sessionId + ".cast");
    OutputStream out =
        new BufferedOutputStream(
            Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    Asciicast cast = new Asciicast(out, clock, cols, rows, term, maxBytes);
    long now = clock.millis();
    jdbi.useHandle(
        h ->
            h.createUpdate(
                    "INSERT INTO shell_recordings (session_id, device_id, actor, cols, rows_,"
                        + " started_at, bytes, truncated) VALUES (:id, :device, :actor, :cols,"
                        + " :rows, :now, :bytes, FALSE)")
                .bind("id", sessionId)
                .bind("device", deviceId)
                .bind("actor", actor)
                .bind("cols", cols)
                .bind("rows", rows)
                .bind("now", now)
                .bind("bytes", cast.bytes())
                .execute());
    return new Recorder(sessionId, cast, out);
  }

  /** One session being recorded; its methods may be called from different threads. */
  public final class Recorder {
    private final String sessionId;
    private final Asciicast cast;
    private final OutputStream file;
    private boolean finished;
    private boolean failed;

    private Recorder(String sessionId, Asciicast cast, OutputStream file) {
      this.sessionId = sessionId;
      this.cast = cast;
      this.file = file;
    }

    public synchronized void output(byte[] data, int off, int len) {
      if (finished || failed) {
        return;
      }
      try {
        cast.output(data, off, len);
      } catch (IOException e) {
        fail(e);
      }
    }

    public synchronized void resize(int cols, int rows) {
      if (finished || failed) {
        return;
      }
      try {
        cast.resize(cols, rows);
      } catch (IOException e) {
        fail(e);
      }
    }

    private void fail(IOException e) {
      failed = true;
      LOG.warn("the recording of session {} stopped: {}", sessionId, e.toString());
    }

    /** Ends the recording; later calls do nothing. */
    public synchronized void finish(Integer exitCode, String reason) {
      if (finished) {
        return;
      }
      finished = true;
      try {
        file.flush();
        cast.close();
      } catch (IOException e) {
        fail(e);
      }
      String why = reason == null ? null : reason.substring(0, Math.min(reason.length(), 500));
      jdbi.useHandle(
          h ->
              h.createUpdate(
                      "UPDATE shell_recordings SET ended_at = :now, bytes = :bytes, truncated ="
                          + " :truncated, exit_code = :exit, end_reason = :reason WHERE"
                          + " session_id = :id")
                  .bind("now", clock.millis())
                  .bind("bytes", cast.bytes())
                  .bind("truncated", cast.truncated() || failed)
                  .bind("exit", exitCode)
                  .bind("reason", why)
                  .bind("id", sessionId)
                  .execute());
    }
  }

  /** The recording of a session, if the caller may see its device. */
  public Meta meta(String sessionId, Predicate<Map<String, String>> visible) {
    Optional<Meta> m =
        jdbi.withHandle(
            h ->
                h.createQuery("SELECT * FROM shell_recordings WHERE session_id = :id")
                    .bind("id", sessionId)
                    .map((rs, ctx) -> meta(rs))
                    .findOne());
    return m.filter(r -> tags.of(r.deviceId()).map(visible::test).orElse(true))
        .orElseThrow(
            () ->
                new ControllerException(
                    ErrorCode.NOT_FOUND,
                    "session '"
                        + sessionId
                        + "' has no recording: only shell sessions are recorded (see `edgefleet"
                        + " sessions list --kind shell`)"));
  }

  /** Opens the cast of a session whose {@link #meta} the caller was allowed. */
  public InputStream open(Meta meta) throws IOException {
    return Files.newInputStream(dir.resolve(meta.sessionId() + ".cast"));
  }

  private static Meta meta(ResultSet rs) throws SQLException {
    long ended = rs.getLong("ended_at");
    boolean hasEnd = !rs.wasNull();
    int exit = rs.getInt("exit_code");
    boolean hasExit = !rs.wasNull();
    return new Meta(
        rs.getString("session_id"),
        rs.getString("device_id"),
        rs.getString("actor"),
        rs.getInt("cols"),
        rs.getInt("rows_"),
        Instant.ofEpochMilli(rs.getLong("started_at")),
        hasEnd ? Instant.ofEpochMilli(ended) : null,
        rs.getLong("bytes"),
        rs.getBoolean("truncated"),
        hasExit ? exit : null,
        rs.getString("end_reason"));
  }
}
