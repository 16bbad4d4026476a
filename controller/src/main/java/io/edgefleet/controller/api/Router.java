package io.edgefleet.controller.api;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Maps method and path templates such as {@code /api/v1/devices/{id}} to handlers. */
public final class Router {

  /** Who may call a route. */
  public enum Access {
    /** Anyone: health and the enrollment endpoint (which checks its own credential). */
    OPEN,
    /** Operators with an admin bearer token. */
    ADMIN,
    /** Enrolled devices presenting a current, unrevoked certificate (mutual TLS). */
    DEVICE
  }

  @FunctionalInterface
  public interface Handler {
    Reply handle(Call call);
  }

  /**
   * Handles a request whose body is read as a stream while it arrives (large uploads that are never
   * held in memory whole); the handler bounds what it reads itself.
   */
  @FunctionalInterface
  public interface Upload {
    Reply handle(Call call, java.io.InputStream body) throws java.io.IOException;
  }

  /**
   * One endpoint.
   *
   * @param maxBody the largest request body this route accepts in bytes; 0 for the listener's
   *     default limit
   * @param upload for a streamed upload route, what reads the body; null for every other route
   */
  public record Route(
      String method, String template, Access access, Handler handler, int maxBody, Upload upload) {
    Route(String method, String template, Access access, Handler handler, int maxBody) {
      this(method, template, access, handler, maxBody, null);
    }

    String[] segments() {
      return template.substring(1).split("/");
    }

    /** Whether requests to this route carry a body; others must not send one. */
    boolean takesBody() {
      return method.equals("POST") || method.equals("PATCH") || method.equals("PUT");
    }
  }

  public record Match(Route route, Map<String, String> pathParams) {}

  private final List<Route> routes = new ArrayList<>();

  /** The route table of all these features' routes. */
  public static Router of(List<? extends Routes> features) {
    Router router = new Router();
    features.forEach(f -> f.register(router));
    return router;
  }

  public Router get(String template, Access access, Handler handler) {
    return add("GET", template, access, handler);
  }

  public Router post(String template, Access access, Handler handler) {
    return add("POST", template, access, handler);
  }

  /** A POST route that accepts bodies up to {@code maxBody} bytes instead of the default limit. */
  public Router post(String template, Access access, int maxBody, Handler handler) {
    if (maxBody < 1) {
      throw new IllegalArgumentException("maxBody must be positive");
    }
    routes.add(new Route("POST", template, access, handler, maxBody));
    return this;
  }

  /**
   * A POST route whose body is streamed to {@code upload} as it arrives instead of being read into
   * memory first; {@code upload} enforces its own size limit.
   */
  public Router upload(String template, Access access, Upload upload) {
    routes.add(
        new Route(
            "POST",
            template,
            access,
            c -> {
              throw new IllegalStateException("an upload route is served through its Upload");
            },
            0,
            upload));
    return this;
  }

  public Router patch(String template, Access access, Handler handler) {
    return add("PATCH", template, access, handler);
  }

  public Router put(String template, Access access, Handler handler) {
    return add("PUT", template, access, handler);
  }

  public Router delete(String template, Access access, Handler handler) {
    return add("DELETE", template, access, handler);
  }

  private Router add(String method, String template, Access access, Handler handler) {
    routes.add(new Route(method, template, access, handler, 0));
    return this;
  }

  /**
   * Replaces the handler of the route with this method and template by {@code wrapper}'s, which may
   * call the one it replaces (e.g. to serve a request elsewhere first).
   *
   * @throws IllegalArgumentException if no such route is registered
   */
  public Router wrap(
      String method, String template, java.util.function.UnaryOperator<Handler> wrapper) {
    for (int i = 0; i < routes.size(); i++) {
      Route r = routes.get(i);
      if (r.method().equals(method) && r.template().equals(template)) {
        routes.set(
            i,
            new Route(
                r.method(),
                r.template(),
                r.access(),
                wrapper.apply(r.handler()),
                r.maxBody(),
                r.upload()));
        return this;
      }
    }
    throw new IllegalArgumentException("no route " + method + " " + template + " to wrap");
  }

  public List<Route> routes() {
    return List.copyOf(routes);
  }

  /**
   * The route for this method and path, if any. Literal segments win over parameters.
   *
   * @param path the path as sent, with its %-escapes: each segment is decoded exactly once, so
   *     {@code a+b} stays {@code a+b} and {@code %2520} becomes {@code %20}
   * @throws ControllerException {@code BAD_REQUEST} if a segment is not valid %-encoded UTF-8
   */
  public Optional<Match> match(String method, String path) {
    Match best = null;
    int bestLiterals = -1;
    for (Route r : routes) {
      if (!r.method().equals(method)) {
        continue;
      }
      Map<String, String> params = bind(r, path);
      if (params != null) {
        int literals =
            (int) java.util.Arrays.stream(r.segments()).filter(s -> !s.startsWith("{")).count();
        if (literals > bestLiterals) {
          best = new Match(r, params);
          bestLiterals = literals;
        }
      }
    }
    return Optional.ofNullable(best);
  }

  /** Methods that do serve this path, for 405 answers. */
  public Set<String> methodsFor(String path) {
    Set<String> methods = new LinkedHashSet<>();
    for (Route r : routes) {
      if (bind(r, path) != null) {
        methods.add(r.method());
      }
    }
    return methods;
  }

  private static Map<String, String> bind(Route r, String path) {
    if (!path.startsWith("/")) {
      return null;
    }
    String[] want = r.segments();
    String[] have = path.substring(1).split("/", -1);
    if (want.length != have.length) {
      return null;
    }
    Map<String, String> params = new LinkedHashMap<>();
    for (int i = 0; i < want.length; i++) {
      if (want[i].startsWith("{")) {
        if (have[i].isEmpty()) {
          return null;
        }
        params.put(want[i].substring(1, want[i].length() - 1), decode(have[i]));
      } else if (!want[i].equals(decode(have[i]))) {
        return null;
      }
    }
    return params;
  }

  /** Percent-decodes one path segment as UTF-8; unlike form decoding, {@code +} stays itself. */
  static String decode(String segment) {
    return decode(segment, false);
  }

  /**
   * Percent-decodes UTF-8 text; {@code form} also reads {@code +} as a space, as query strings do.
   *
   * @throws ControllerException {@code BAD_REQUEST} for a broken escape or invalid UTF-8
   */
  static String decode(String segment, boolean form) {
    if (form) {
      segment = segment.replace('+', ' ');
    }
    if (segment.indexOf('%') < 0) {
      return segment;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(segment.length());
    for (int i = 0; i < segment.length(); i++) {
      char c = segment.charAt(i);
      if (c != '%') {
        out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
        continue;
      }
      int hi = i + 2 < segment.length() ? Character.digit(segment.charAt(i + 1), 16) : -1;
      int lo = hi >= 0 ? Character.digit(segment.charAt(i + 2), 16) : -1;
      if (lo < 0) {
        throw badSegment(segment);
      }
      out.write(hi * 16 + lo);
      i += 2;
    }
    CharsetDecoder utf8 =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    try {
      return utf8.decode(ByteBuffer.wrap(out.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      throw badSegment(segment);
    }
  }

  private static ControllerException badSegment(String segment) {
    return new ControllerException(
        ErrorCode.BAD_REQUEST,
        "'"
            + (segment.length() > 80 ? segment.substring(0, 80) + "…" : segment)
            + "' in the path or query is not valid: use UTF-8 and %XX escapes");
  }
}
