package io.edgefleet.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SequencedMap;
import java.util.Set;

/**
 * Plain-text output: aligned tables with an upper-case header row, and key/value blocks. Empty
 * cells show as {@code -}; control characters (which a device could smuggle into its hostname) are
 * replaced so they can neither break the alignment nor drive the terminal. Tables fit the width of
 * the {@link Screen} by shortening free-text columns.
 */
final class Table {
  private static final String GAP = "  ";

  /** Columns of free text, which are shortened to fit the screen; identifiers never are. */
  static final Set<String> FREE_TEXT =
      Set.of(
          "REASON",
          "MESSAGE",
          "WHY",
          "DESCRIPTION",
          "SUMMARY",
          "ERROR",
          "TAGS",
          "NOTIFICATIONS",
          "WHAT WAS REPAIRED",
          "URL",
          "AUTHOR");

  /** Columns of status words, which are coloured on a colour screen. */
  static final Set<String> STATUS = Set.of("STATUS", "STATE");

  static final int MIN_WIDTH = 12;
  private final List<String> headers;
  private final List<List<String>> rows = new ArrayList<>();

  Table(String... headers) {
    this.headers = Arrays.stream(headers).map(h -> h.toUpperCase(Locale.ROOT)).toList();
  }

  /** Adds a row; it must have one cell per header. */
  Table row(String... cells) {
    if (cells.length != headers.size()) {
      throw new IllegalArgumentException(
          "row has " + cells.length + " cells but the table has " + headers.size() + " columns");
    }
    rows.add(Arrays.stream(cells).map(Table::cell).toList());
    return this;
  }

  /** The table for the screen of the running command ({@link Screen#current()}). */
  String render() {
    return render(Screen.current());
  }

  /**
   * The table, one line per row after the header, each line ending in a newline. When the natural
   * width exceeds the screen's, the widest free-text columns ({@link #FREE_TEXT}) are shortened,
   * each to no less than {@value #MIN_WIDTH} characters or its header, and their cut cells end in
   * {@code …}. On a colour screen the words of STATUS and STATE columns are coloured.
   */
  String render(Screen screen) {
    int[] widths = new int[headers.size()];
    for (List<String> line : lines()) {
      for (int i = 0; i < widths.length; i++) {
        widths[i] = Math.max(widths[i], line.get(i).length());
      }
    }
    if (screen.width() > 0) {
      shrink(widths, screen.width());
    }
    StringBuilder out = new StringBuilder();
    boolean header = true;
    for (List<String> line : lines()) {
      for (int i = 0; i < widths.length; i++) {
        String cell = cut(line.get(i), widths[i]);
        boolean status = STATUS.contains(headers.get(i));
        out.append(!header && screen.colour() && status ? paint(cell) : cell);
        if (i < widths.length - 1) {
          out.append(" ".repeat(widths[i] - cell.length())).append(GAP);
        }
      }
      out.append('\n');
      header = false;
    }
    return out.toString();
  }

  /** Narrows the widest free-text column, one character at a time, until the table fits. */
  private void shrink(int[] widths, int screenWidth) {
    int total = GAP.length() * (widths.length - 1);
    for (int w : widths) {
      total += w;
    }
    while (total > screenWidth) {
      int widest = -1;
      for (int i = 0; i < widths.length; i++) {
        int floor = Math.max(MIN_WIDTH, headers.get(i).length());
        if (FREE_TEXT.contains(headers.get(i))
            && widths[i] > floor
            && (widest < 0 || widths[i] > widths[widest])) {
          widest = i;
        }
      }
      if (widest < 0) {
        return; // only identifiers and numbers left: they are never cut
      }
      widths[widest]--;
      total--;
    }
  }

  /**
   * Free text that must be read whole (a problem, a reason) broken at spaces into lines that fit
   * the screen, the first starting with {@code first}, the others with as many spaces; each line
   * ends in a newline. A word longer than a line stays whole. Any width: one line.
   */
  static String wrap(String first, String text, Screen screen) {
    String indent = " ".repeat(first.length());
    int width = screen.width();
    if (width <= first.length() + 10) {
      return first + text + "\n";
    }
    StringBuilder out = new StringBuilder();
    StringBuilder line = new StringBuilder(first);
    for (String word : text.split(" ")) {
      if (line.length() > indent.length() && line.length() + 1 + word.length() > width) {
        out.append(line).append('\n');
        line = new StringBuilder(indent);
      }
      if (line.length() > indent.length()) {
        line.append(' ');
      }
      line.append(word);
    }
    return out.append(line).append('\n').toString();
  }

  /** A line of free text (such as a history entry) shortened with {@code …} to the screen. */
  static String line(String text, Screen screen) {
    String clean = cell(text);
    return screen.width() > 0 ? cut(clean, Math.max(MIN_WIDTH, screen.width())) : clean;
  }

  private static String cut(String cell, int width) {
    return cell.length() <= width ? cell : cell.substring(0, width - 1) + "…";
  }

  /** A status word in ANSI colour: green when well, yellow while on the way, red when not. */
  static String paint(String word) {
    String code =
        switch (word) {
          case "ONLINE", "READY", "RUNNING", "SUCCEEDED", "HEALTHY", "ACTIVE", "OK", "ok" -> "32";
          case "PENDING",
              "NEVER_SEEN",
              "DEGRADED",
              "PAUSED",
              "PROGRESSING",
              "ROLLING_BACK",
              "UPDATING",
              "WAITING",
              "pending" ->
              "33";
          case "OFFLINE",
              "ERROR",
              "FAILED",
              "REJECTED",
              "ABORTED",
              "ROLLED_BACK",
              "FIRING",
              "failed" ->
              "31";
          default -> null;
        };
    return code == null ? word : "\u001b[" + code + "m" + word + "\u001b[0m";
  }

  /** A block of {@code Key: value} lines with the values aligned. */
  static String fields(SequencedMap<String, String> fields) {
    int width = fields.keySet().stream().mapToInt(String::length).max().orElse(0) + 1;
    StringBuilder out = new StringBuilder();
    fields.forEach(
        (key, value) ->
            out.append(key)
                .append(':')
                .append(" ".repeat(width - key.length()))
                .append(GAP)
                .append(cell(value))
                .append('\n'));
    return out.toString();
  }

  private List<List<String>> lines() {
    List<List<String>> lines = new ArrayList<>(rows.size() + 1);
    lines.add(headers);
    lines.addAll(rows);
    return lines;
  }

  private static String cell(String value) {
    if (value == null || value.isBlank()) {
      return "-";
    }
    StringBuilder clean = new StringBuilder(value.length());
    value.codePoints().forEach(c -> clean.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    return clean.toString();
  }
}
