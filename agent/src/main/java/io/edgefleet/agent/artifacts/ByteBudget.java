package io.edgefleet.agent.artifacts;

import io.edgefleet.protocol.SecureFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;

/**
 * The artifact bytes that crossed the link today (in the download policy's zone), kept in a small
 * file so that a restart does not hand out the day's budget again. Bytes are counted as they arrive
 * (refetched chunks count too: they crossed the link) and written at least at every verified chunk
 * and at the end of every transfer, so a crash forgets at most one chunk's worth. Not thread-safe:
 * used by one download at a time.
 */
final class ByteBudget {
  private final Path file;
  private final Clock clock;
  private LocalDate day;
  private long used;
  private long written = -1;

  ByteBudget(Path file, Clock clock) {
    this.file = file;
    this.clock = clock;
    read();
  }

  private void read() {
    try {
      if (Files.isRegularFile(file)) {
        String[] parts = Files.readString(file, StandardCharsets.US_ASCII).trim().split(" ");
        if (parts.length == 2) {
          day = LocalDate.parse(parts[0]);
          used = Math.max(0, Long.parseLong(parts[1]));
          written = used;
        }
      }
    } catch (IOException | DateTimeParseException | NumberFormatException e) {
      // An unreadable record counts as nothing used: the worst case is one extra day's budget.
      day = null;
      used = 0;
    }
  }

  /** Bytes used on the current day in {@code zone}. */
  long used(ZoneId zone) {
    roll(zone);
    return used;
  }

  /** What may still cross the link today under a budget of {@code perDay} bytes (0: no budget). */
  long left(long perDay, ZoneId zone) {
    if (perDay == 0) {
      return Long.MAX_VALUE;
    }
    return Math.max(0, perDay - used(zone));
  }

  /** Counts {@code bytes} that crossed the link. */
  void spend(long bytes, ZoneId zone) {
    roll(zone);
    used += bytes;
  }

  /** Writes the count if it changed. */
  void save() {
    if (day == null || written == used) {
      return;
    }
    SecureFiles.writeSecret(file, day + " " + used);
    written = used;
  }

  private void roll(ZoneId zone) {
    LocalDate today = LocalDate.ofInstant(clock.instant(), zone);
    if (!today.equals(day)) {
      day = today;
      used = 0;
      written = -1;
    }
  }
}
