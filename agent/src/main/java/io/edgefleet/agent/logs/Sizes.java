package io.edgefleet.agent.logs;

import io.edgefleet.protocol.AgentMessage.LogLine;

/**
 * What log lines cost on the wire: an upper bound of their JSON size in bytes (UTF-8, escapes), so
 * that batches stay under the message limit whatever the text. Pure functions.
 */
final class Sizes {
  /** Field names, quotes, the timestamp and separators of one line in JSON. */
  static final int LINE_OVERHEAD = 80;

  /** The longest line text kept, in JSON bytes; longer lines are cut. */
  static final int MAX_LINE_BYTES = 16 * 1024;

  private Sizes() {}

  static int cost(LogLine line) {
    return LINE_OVERHEAD + json(line.pod()) + json(line.container()) + json(line.line());
  }

  /** An upper bound of the JSON string size of {@code s}, without its quotes. */
  static int json(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      n += json(s.charAt(i));
    }
    return n;
  }

  private static int json(char c) {
    if (c < 0x20) {
      return 6; // escaped as backslash, u and four hex digits
    }
    if (c == '"' || c == '\\') {
      return 2;
    }
    if (c < 0x80) {
      return 1;
    }
    if (Character.isSurrogate(c)) {
      return 6; // Jackson writes each half of a pair as an escape when it writes bytes
    }
    return c < 0x800 ? 2 : 3;
  }

  /** {@code s} cut so that its JSON size is at most {@value #MAX_LINE_BYTES}, marked if cut. */
  static String capped(String s) {
    if (s.length() * 6 <= MAX_LINE_BYTES) {
      return s;
    }
    String mark = " …[cut]";
    int budget = MAX_LINE_BYTES - json(mark);
    int n = 0;
    int i = 0;
    while (i < s.length()) {
      int c = json(s.charAt(i));
      if (n + c > budget) {
        break;
      }
      n += c;
      i++;
    }
    if (i == s.length()) {
      return s;
    }
    if (i > 0 && Character.isHighSurrogate(s.charAt(i - 1))) {
      i--; // never split a surrogate pair
    }
    return s.substring(0, i) + mark;
  }
}
