package io.edgefleet.controller.gitops;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.eclipse.jgit.diff.DiffAlgorithm;
import org.eclipse.jgit.diff.DiffFormatter;
import org.eclipse.jgit.diff.EditList;
import org.eclipse.jgit.diff.RawText;
import org.eclipse.jgit.diff.RawTextComparator;

/**
 * Unified diffs of an application's rendered resources between two commits, bounded: a commit that
 * rewrites a large application is shown in its first lines with how many more there are. Stateless.
 */
final class Patches {
  /** Lines of diff kept per application. */
  static final int MAX_LINES = 300;

  /** Characters kept per line of diff. */
  static final int MAX_LINE = 400;

  private static final DiffAlgorithm HISTOGRAM =
      DiffAlgorithm.getAlgorithm(DiffAlgorithm.SupportedAlgorithm.HISTOGRAM);

  private Patches() {}

  /**
   * The unified diff, per resource in the order given, of the resources {@code ids} between {@code
   * before} and {@code after} (resource identity to its YAML); an absent resource is empty. At most
   * {@link #MAX_LINES} lines, the last then saying {@code … N more lines}; empty when nothing
   * differs.
   */
  static String of(List<String> ids, Map<String, String> before, Map<String, String> after) {
    List<String> lines = new ArrayList<>();
    for (String id : ids) {
      String was = before.getOrDefault(id, "");
      String now = after.getOrDefault(id, "");
      if (was.equals(now)) {
        continue;
      }
      lines.add("--- " + (before.containsKey(id) ? "a/" + id : "/dev/null"));
      lines.add("+++ " + (after.containsKey(id) ? "b/" + id : "/dev/null"));
      hunks(was, now).lines().forEach(lines::add);
    }
    StringBuilder out = new StringBuilder();
    int kept = lines.size() > MAX_LINES ? MAX_LINES - 1 : lines.size();
    for (int i = 0; i < kept; i++) {
      String line = lines.get(i);
      out.append(line.length() > MAX_LINE ? line.substring(0, MAX_LINE - 1) + "…" : line)
          .append('\n');
    }
    if (kept < lines.size()) {
      out.append("… ").append(lines.size() - kept).append(" more lines\n");
    }
    return out.toString();
  }

  private static String hunks(String before, String after) {
    RawText a = new RawText(bytes(before));
    RawText b = new RawText(bytes(after));
    EditList edits = HISTOGRAM.diff(RawTextComparator.DEFAULT, a, b);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (DiffFormatter f = new DiffFormatter(out)) {
      f.setContext(3);
      f.format(edits, a, b);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static byte[] bytes(String text) {
    return (text.isEmpty() || text.endsWith("\n") ? text : text + "\n")
        .getBytes(StandardCharsets.UTF_8);
  }
}
