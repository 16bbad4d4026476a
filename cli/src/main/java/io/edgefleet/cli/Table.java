package io.edgefleet.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SequencedMap;

/**
 * Plain-text output: aligned tables with an upper-case header row, and key/value blocks. Empty
 * cells show as {@code -}; control characters (which a device could smuggle into its hostname) are
 * replaced so they can neither break the alignment nor drive the terminal.
 */
final class Table {
  private static final String GAP = "  ";
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

  /** The table, one line per row after the header, each line ending in a newline. */
  String render() {
    int[] widths = new int[headers.size()];
    for (List<String> line : lines()) {
      for (int i = 0; i < widths.length; i++) {
        widths[i] = Math.max(widths[i], line.get(i).length());
      }
    }
    StringBuilder out = new StringBuilder();
    for (List<String> line : lines()) {
      for (int i = 0; i < widths.length; i++) {
        String cell = line.get(i);
        out.append(cell);
        if (i < widths.length - 1) {
          out.append(" ".repeat(widths[i] - cell.length())).append(GAP);
        }
      }
      out.append('\n');
    }
    return out.toString();
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
