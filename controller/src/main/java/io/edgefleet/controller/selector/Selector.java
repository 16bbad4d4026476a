package io.edgefleet.controller.selector;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Labels;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Kubernetes label selector over device tags: {@code k=v}, {@code k==v}, {@code k!=v}, {@code k
 * in (a,b)}, {@code k notin (a,b)}, {@code k} (exists), {@code !k} (does not exist), joined by
 * commas meaning AND. The empty selector and {@code *} both match every device: one grammar for
 * every place that selects devices (deployment and repository targets, alert rules, fleet
 * summaries, device and event listings).
 *
 * <p>As in Kubernetes, {@code k!=v} and {@code k notin (…)} also match devices without the tag
 * {@code k}. Keys follow the tag key rules of {@link Labels}; values the tag value rules (empty
 * allowed). Immutable and thread-safe; equal selectors have equal {@link #toString()}.
 */
public final class Selector {
  private static final Selector EVERYTHING = new Selector(List.of());

  /** The spelling of "every device" besides the empty selector. */
  public static final String ALL = "*";

  private final List<Requirement> requirements;
  private final String canonical;

  /** The operators of a requirement. */
  public enum Operator {
    EQUALS,
    NOT_EQUALS,
    IN,
    NOT_IN,
    EXISTS,
    DOES_NOT_EXIST
  }

  /**
   * One condition on one tag. {@code values} is sorted; it holds one value for {@code EQUALS} and
   * {@code NOT_EQUALS}, at least one for {@code IN} and {@code NOT_IN}, none otherwise.
   */
  public record Requirement(String key, Operator operator, Set<String> values) {
    public Requirement {
      values = Collections.unmodifiableSortedSet(new TreeSet<>(values));
    }

    /** Whether the tags satisfy this requirement. */
    public boolean matches(Map<String, String> tags) {
      String v = tags.get(key);
      return switch (operator) {
        case EQUALS, IN -> v != null && values.contains(v);
        case NOT_EQUALS, NOT_IN -> v == null || !values.contains(v);
        case EXISTS -> v != null;
        case DOES_NOT_EXIST -> v == null;
      };
    }

    @Override
    public String toString() {
      return switch (operator) {
        case EQUALS -> key + "=" + values.iterator().next();
        case NOT_EQUALS -> key + "!=" + values.iterator().next();
        case IN -> key + " in (" + String.join(",", values) + ")";
        case NOT_IN -> key + " notin (" + String.join(",", values) + ")";
        case EXISTS -> key;
        case DOES_NOT_EXIST -> "!" + key;
      };
    }
  }

  private Selector(List<Requirement> requirements) {
    List<Requirement> sorted = new ArrayList<>(requirements);
    sorted.sort(
        Comparator.comparing(Requirement::key)
            .thenComparing(Requirement::operator)
            .thenComparing(r -> String.join(",", r.values())));
    this.requirements = List.copyOf(sorted);
    this.canonical =
        String.join(",", this.requirements.stream().map(Requirement::toString).toList());
  }

  /** The selector that matches every device. */
  public static Selector everything() {
    return EVERYTHING;
  }

  /**
   * Parses Kubernetes label-selector syntax.
   *
   * @throws IllegalArgumentException naming the offending part and what was expected there
   */
  public static Selector parse(String text) {
    if (text == null || text.isBlank() || text.strip().equals(ALL)) {
      return EVERYTHING;
    }
    return new Selector(new Parser(text).parse());
  }

  /**
   * Parses the selector a request gives as {@code field}, the same way for every endpoint.
   *
   * @throws ControllerException {@link ErrorCode#VALIDATION_FAILED} with the field, the offending
   *     part and what was expected there
   */
  public static Selector parse(String field, String text) {
    try {
      return parse(text);
    } catch (IllegalArgumentException e) {
      throw new ControllerException(
          ErrorCode.VALIDATION_FAILED,
          field + ": " + e.getMessage() + " (use '*' or '' for every device)");
    }
  }

  /** Whether a device with these tags is selected. */
  public boolean matches(Map<String, String> tags) {
    for (Requirement r : requirements) {
      if (!r.matches(tags)) {
        return false;
      }
    }
    return true;
  }

  /** The requirements in canonical order (by key, then operator). */
  public List<Requirement> requirements() {
    return requirements;
  }

  /** The selector that picks what both this one and {@code other} pick. */
  public Selector and(Selector other) {
    List<Requirement> both = new ArrayList<>(requirements);
    other.requirements.stream().filter(r -> !both.contains(r)).forEach(both::add);
    return both.isEmpty() ? EVERYTHING : new Selector(both);
  }

  public boolean isEverything() {
    return requirements.isEmpty();
  }

  /**
   * The canonical form, e.g. {@code env in (prod,stage),site=s1}; parses back to an equal value.
   */
  @Override
  public String toString() {
    return canonical;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Selector s && s.canonical.equals(canonical);
  }

  @Override
  public int hashCode() {
    return canonical.hashCode();
  }

  private enum Token {
    IDENT,
    COMMA,
    OPEN,
    CLOSE,
    BANG,
    EQ,
    DOUBLE_EQ,
    NOT_EQ,
    IN,
    NOT_IN,
    GT,
    LT,
    END
  }

  /** A recursive-descent parser over a small lexer, like Kubernetes' own. */
  private static final class Parser {
    private final String text;
    private int pos;
    private Token token;
    private String value = "";
    private int tokenStart;

    Parser(String text) {
      this.text = text;
      next();
    }

    List<Requirement> parse() {
      List<Requirement> out = new ArrayList<>();
      while (true) {
        out.add(requirement());
        if (token == Token.END) {
          return out;
        }
        if (token != Token.COMMA) {
          throw error("expected ',' or the end of the selector");
        }
        next();
        if (token == Token.END) {
          throw error("expected a requirement after ','");
        }
      }
    }

    private Requirement requirement() {
      if (token == Token.BANG) {
        next();
        String key = key();
        next();
        return new Requirement(key, Operator.DOES_NOT_EXIST, Set.of());
      }
      String key = key();
      next();
      switch (token) {
        case END, COMMA -> {
          return new Requirement(key, Operator.EXISTS, Set.of());
        }
        case EQ, DOUBLE_EQ, NOT_EQ -> {
          Operator op = token == Token.NOT_EQ ? Operator.NOT_EQUALS : Operator.EQUALS;
          next();
          String v = "";
          if (token == Token.IDENT) {
            v = value(key, value);
            next();
          } else if (token != Token.END && token != Token.COMMA) {
            throw error("expected a value for '" + key + "'");
          }
          return new Requirement(key, op, Set.of(v));
        }
        case IN, NOT_IN -> {
          Operator op = token == Token.IN ? Operator.IN : Operator.NOT_IN;
          next();
          if (token != Token.OPEN) {
            throw error("expected '(' after '" + (op == Operator.IN ? "in" : "notin") + "'");
          }
          next();
          Set<String> values = new TreeSet<>();
          while (true) {
            if (token == Token.IDENT) {
              values.add(value(key, value));
              next();
            } else if (token == Token.COMMA || token == Token.CLOSE) {
              values.add("");
            } else {
              throw error("expected a value, ',' or ')'");
            }
            if (token == Token.CLOSE) {
              next();
              break;
            }
            if (token != Token.COMMA) {
              throw error("expected ',' or ')' in the value list of '" + key + "'");
            }
            next();
          }
          return new Requirement(key, op, values);
        }
        case GT, LT ->
            throw error(
                "operators '<' and '>' are not supported; use =, ==, !=, in, notin, or a bare"
                    + " key");
        default ->
            throw error(
                "expected an operator (=, ==, !=, in, notin), ',' or the end after '" + key + "'");
      }
    }

    private String key() {
      if (token != Token.IDENT) {
        throw error("expected a tag key");
      }
      try {
        Labels.validateKey(value);
      } catch (IllegalArgumentException e) {
        throw error(e.getMessage());
      }
      return value;
    }

    private String value(String key, String v) {
      try {
        Labels.validate(key, v);
      } catch (IllegalArgumentException e) {
        throw error(e.getMessage());
      }
      return v;
    }

    private IllegalArgumentException error(String what) {
      String near = token == Token.END ? "at the end" : "at '" + text.substring(tokenStart) + "'";
      return new IllegalArgumentException(
          "invalid selector '"
              + text
              + "' "
              + near
              + " (position "
              + (tokenStart + 1)
              + "): "
              + what);
    }

    private void next() {
      while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
        pos++;
      }
      tokenStart = pos;
      if (pos >= text.length()) {
        token = Token.END;
        return;
      }
      char c = text.charAt(pos);
      switch (c) {
        case ',' -> single(Token.COMMA);
        case '(' -> single(Token.OPEN);
        case ')' -> single(Token.CLOSE);
        case '>' -> single(Token.GT);
        case '<' -> single(Token.LT);
        case '=' -> {
          if (pos + 1 < text.length() && text.charAt(pos + 1) == '=') {
            pos += 2;
            token = Token.DOUBLE_EQ;
          } else {
            single(Token.EQ);
          }
        }
        case '!' -> {
          if (pos + 1 < text.length() && text.charAt(pos + 1) == '=') {
            pos += 2;
            token = Token.NOT_EQ;
          } else {
            single(Token.BANG);
          }
        }
        default -> {
          int start = pos;
          while (pos < text.length() && !special(text.charAt(pos))) {
            pos++;
          }
          value = text.substring(start, pos);
          token =
              switch (value) {
                case "in" -> Token.IN;
                case "notin" -> Token.NOT_IN;
                default -> Token.IDENT;
              };
        }
      }
    }

    private void single(Token t) {
      pos++;
      token = t;
    }

    private static boolean special(char c) {
      return Character.isWhitespace(c)
          || c == ','
          || c == '('
          || c == ')'
          || c == '='
          || c == '!'
          || c == '<'
          || c == '>';
    }
  }
}
