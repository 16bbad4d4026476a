package io.edgefleet.controller.registry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One challenge of a {@code WWW-Authenticate} header (RFC 7235): a scheme such as {@code Bearer} or
 * {@code Basic} and its parameters, such as {@code realm}, {@code service} and {@code scope}.
 *
 * @param scheme the scheme, lowercase
 * @param params the parameters, names lowercase, values unquoted
 */
record AuthChallenge(String scheme, Map<String, String> params) {
  /** Longest header this parser reads; a registry has no reason to send more. */
  static final int MAX_HEADER = 8192;

  AuthChallenge {
    params = Map.copyOf(params);
  }

  Optional<String> param(String name) {
    return Optional.ofNullable(params.get(name));
  }

  /**
   * The challenges of a header value, in order. Malformed parts are skipped rather than refused: a
   * registry's odd header must not hide a challenge that is well formed.
   */
  static List<AuthChallenge> parse(String header) {
    List<AuthChallenge> out = new ArrayList<>();
    if (header == null || header.length() > MAX_HEADER) {
      return out;
    }
    Lexer lx = new Lexer(header);
    String scheme = null;
    Map<String, String> params = new LinkedHashMap<>();
    while (true) {
      lx.skipSpaceAndCommas();
      if (lx.done()) {
        break;
      }
      String token = lx.token();
      if (token.isEmpty()) {
        lx.skipJunk();
        continue;
      }
      lx.skipSpace();
      if (lx.peek() == '=') {
        lx.next();
        lx.skipSpace();
        String value = lx.peek() == '"' ? lx.quoted() : lx.token();
        if (scheme != null) {
          params.put(token.toLowerCase(Locale.ROOT), value);
        }
      } else {
        if (scheme != null) {
          out.add(new AuthChallenge(scheme, params));
        }
        scheme = token.toLowerCase(Locale.ROOT);
        params = new LinkedHashMap<>();
      }
    }
    if (scheme != null) {
      out.add(new AuthChallenge(scheme, params));
    }
    return out;
  }

  /** A cursor over a header value. */
  private static final class Lexer {
    private final String s;
    private int i;

    Lexer(String s) {
      this.s = s;
    }

    boolean done() {
      return i >= s.length();
    }

    char peek() {
      return done() ? '\0' : s.charAt(i);
    }

    void next() {
      i++;
    }

    void skipSpace() {
      while (!done() && (peek() == ' ' || peek() == '\t')) {
        i++;
      }
    }

    void skipSpaceAndCommas() {
      while (!done() && (peek() == ' ' || peek() == '\t' || peek() == ',')) {
        i++;
      }
    }

    void skipJunk() {
      while (!done() && peek() != ',') {
        i++;
      }
    }

    /** An RFC 7230 token (plus '/' for token68 values such as base64). */
    String token() {
      int start = i;
      while (!done()) {
        char c = peek();
        if (Character.isLetterOrDigit(c) || "!#$%&'*+-.^_`|~/:".indexOf(c) >= 0) {
          i++;
        } else {
          break;
        }
      }
      return s.substring(start, i);
    }

    String quoted() {
      StringBuilder b = new StringBuilder();
      i++;
      while (!done() && peek() != '"') {
        if (peek() == '\\' && i + 1 < s.length()) {
          i++;
        }
        b.append(peek());
        i++;
      }
      i++;
      return b.toString();
    }
  }
}
