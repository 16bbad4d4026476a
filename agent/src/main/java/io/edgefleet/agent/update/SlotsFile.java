package io.edgefleet.agent.update;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.regex.Pattern;

/**
 * {@code slots.json}: which slot is active, a pending trial, and the outcome of the last switch.
 * The start script ({@code edgefleet-agent}) reads and writes the same file with sed and printf, so
 * it is written here in the script's fixed layout: one {@code "key": value} per line, strings
 * without quotes, backslashes or control characters. Every write is a temporary file, flushed,
 * renamed over the old one, and the directory flushed: a crash leaves the old or the new file,
 * never a mix.
 */
public final class SlotsFile {
  /** The file's name in the slots directory. */
  public static final String FILE = "slots.json";

  /** The most characters of a reason kept (the script keeps as many). */
  public static final int MAX_REASON = 500;

  private static final Pattern UNSAFE = Pattern.compile("[\\p{Cntrl}\"\\\\]");

  /**
   * The file's content.
   *
   * @param active the slot that last proved itself ({@code a} or {@code b}); the script starts it
   *     when no trial is pending
   * @param seeded the version of the package's release the slots were seeded with
   * @param trial the slot on trial, or null
   * @param trialVersion the version the trial slot holds, or null
   * @param deadline when the trial slot must have confirmed (epoch seconds; 0 without a trial)
   * @param starts how often the script started the trial slot
   * @param outcome {@code confirmed} or {@code rolled-back} for the last switch, or null
   * @param outcomeVersion the version that outcome is about
   * @param reason why it was rolled back, or null
   * @param at when the outcome was recorded (epoch seconds)
   */
  public record State(
      String active,
      String seeded,
      String trial,
      String trialVersion,
      long deadline,
      long starts,
      String outcome,
      String outcomeVersion,
      String reason,
      long at) {

    public State {
      active = slot(active);
      trial = slot(trial);
      seeded = clean(seeded);
      trialVersion = clean(trialVersion);
      outcome = clean(outcome);
      outcomeVersion = clean(outcomeVersion);
      reason = clean(reason);
    }

    /**
     * A trial of {@code version} in {@code slot} until {@code deadline}; the outcome is cleared.
     */
    public State withTrial(String slot, String version, Instant deadline) {
      return new State(
          active, seeded, slot, version, deadline.getEpochSecond(), 0, null, null, null, 0);
    }

    /** The trial slot proved itself: it is the active one now. */
    public State confirmed(Instant now) {
      return new State(
          trial, seeded, null, null, 0, 0, "confirmed", trialVersion, null, now.getEpochSecond());
    }

    /** The trial was given up for {@code why}: the active slot stays. */
    public State rolledBack(String why, Instant now) {
      return new State(
          active, seeded, null, null, 0, 0, "rolled-back", trialVersion, why, now.getEpochSecond());
    }

    /** The slot that is not the active one: where a release is staged. */
    public String inactive() {
      return other(active);
    }
  }

  private SlotsFile() {}

  /** The other slot. */
  public static String other(String slot) {
    return "a".equals(slot) ? "b" : "a";
  }

  /**
   * Reads the file in {@code dir}.
   *
   * @throws IOException if it is missing or unreadable
   */
  public static State read(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    JsonNode n;
    try {
      n = JsonCodec.readTree(Files.readString(file));
    } catch (NoSuchFileException e) {
      throw new IOException(
          file + " is missing: the start script writes it before it starts the agent", e);
    } catch (IOException e) {
      throw new IOException(file + " is unreadable: " + e.getMessage(), e);
    }
    if (n == null || !n.isObject()) {
      throw new IOException(file + " is not a JSON object");
    }
    return new State(
        text(n, "active"),
        text(n, "seeded"),
        text(n, "trial"),
        text(n, "trialVersion"),
        n.path("deadline").asLong(0),
        n.path("starts").asLong(0),
        text(n, "outcome"),
        text(n, "outcomeVersion"),
        text(n, "reason"),
        n.path("at").asLong(0));
  }

  /** Writes {@code state} into {@code dir}, crash-safe (temporary file, fsync, rename, fsync). */
  public static void write(Path dir, State state) throws IOException {
    String json =
        "{\n"
            + "  \"format\": 1,\n"
            + "  \"active\": "
            + string(state.active())
            + ",\n"
            + "  \"seeded\": "
            + string(state.seeded())
            + ",\n"
            + "  \"trial\": "
            + string(state.trial())
            + ",\n"
            + "  \"trialVersion\": "
            + string(state.trialVersion())
            + ",\n"
            + "  \"deadline\": "
            + state.deadline()
            + ",\n"
            + "  \"starts\": "
            + state.starts()
            + ",\n"
            + "  \"outcome\": "
            + string(state.outcome())
            + ",\n"
            + "  \"outcomeVersion\": "
            + string(state.outcomeVersion())
            + ",\n"
            + "  \"reason\": "
            + string(state.reason())
            + ",\n"
            + "  \"at\": "
            + state.at()
            + "\n}\n";
    writeDurably(dir.resolve(FILE), json.getBytes(StandardCharsets.UTF_8));
  }

  /** Writes a file crash-safe: a temporary file next to it, flushed, renamed, directory flushed. */
  static void writeDurably(Path file, byte[] content) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    syncDirectory(file.getParent());
  }

  /** Flushes a directory's entries (a rename in it) to disk; best effort where not supported. */
  static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // Some file systems cannot open a directory for reading; the rename is still atomic.
    }
  }

  /** A text the script can keep: no quotes, backslashes or control characters, bounded. */
  static String clean(String s) {
    if (s == null) {
      return null;
    }
    String c = UNSAFE.matcher(s).replaceAll("").strip();
    if (c.length() > MAX_REASON) {
      c = c.substring(0, MAX_REASON);
    }
    return c.isEmpty() ? null : c;
  }

  private static String slot(String s) {
    return "a".equals(s) || "b".equals(s) ? s : null;
  }

  private static String string(String s) {
    String c = clean(s);
    return c == null ? "null" : "\"" + c + "\"";
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }
}
