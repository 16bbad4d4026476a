package io.edgefleet.cli;

import java.util.Map;

/**
 * Where tables are printed and so how: the width they must fit (0 for any width) and whether status
 * words may be coloured.
 *
 * <ul>
 *   <li>Width: {@code -o wide} never shortens anything. Otherwise {@code COLUMNS}, when set, is the
 *       width; on a terminal without it ({@code ./edgefleet} sets it from the terminal) {@value
 *       #DEFAULT_WIDTH}; piped output is not shortened, so scripts see every character.
 *   <li>Colour: only on a terminal whose {@code TERM} is not {@code dumb}, and never with {@code
 *       NO_COLOR} set (<a href="https://no-color.org">no-color.org</a>).
 * </ul>
 *
 * <p>A command's tables are rendered inside {@link #use} so the many table-building helpers need
 * not pass the screen along; outside it tables are plain and of any width.
 *
 * @param width the width in characters a table should fit, 0 for any
 * @param colour whether status words are coloured with ANSI escapes
 * @param terminal whether the output is a terminal (watch modes redraw in place only there)
 */
record Screen(int width, boolean colour, boolean terminal) {
  static final int DEFAULT_WIDTH = 100;

  /** Plain text of any width: piped output, and the default outside a command. */
  static final Screen PLAIN = new Screen(0, false, false);

  private static final ThreadLocal<Screen> CURRENT = ThreadLocal.withInitial(() -> PLAIN);

  /** The screen for this environment; {@code wide} is {@code -o wide}. */
  static Screen of(Map<String, String> env, boolean terminal, boolean wide) {
    int columns = columns(env.get("COLUMNS"));
    int width = wide ? 0 : columns > 0 ? columns : terminal ? DEFAULT_WIDTH : 0;
    String noColor = env.get("NO_COLOR");
    boolean colour =
        terminal && (noColor == null || noColor.isEmpty()) && !"dumb".equals(env.get("TERM"));
    return new Screen(width, colour, terminal);
  }

  /** The screen of the command running on this thread. */
  static Screen current() {
    return CURRENT.get();
  }

  /** Runs {@code action} with this screen as {@link #current()}. */
  void use(Runnable action) {
    Screen before = CURRENT.get();
    CURRENT.set(this);
    try {
      action.run();
    } finally {
      CURRENT.set(before);
    }
  }

  private static int columns(String text) {
    if (text == null) {
      return 0;
    }
    try {
      return Math.max(0, Integer.parseInt(text.strip()));
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
