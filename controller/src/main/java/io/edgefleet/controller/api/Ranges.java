package io.edgefleet.controller.api;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte ranges of an immutable representation (RFC 9110 §14): one range per request, {@code
 * bytes=N-} or {@code bytes=N-M}, honoured only while {@code If-Range} (when sent) names the
 * representation's entity tag, so a client resuming a cut download never joins two different
 * representations. Anything else is answered with the whole representation.
 */
public final class Ranges {
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d{1,18})-(\\d{0,18})");

  private Ranges() {}

  /**
   * The answer to a request for {@code bytes}: 200 with all of it, 206 with the range asked for, or
   * 416 when the range starts beyond the end.
   *
   * @param headers the request headers, names in lower case
   * @param etag the entity tag of exactly these bytes (quoted)
   */
  public static Reply answer(
      Map<String, String> headers,
      String contentType,
      String contentEncoding,
      byte[] bytes,
      String etag) {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("ETag", etag);
    out.put("Accept-Ranges", "bytes");
    Optional<long[]> range = range(headers, etag, bytes.length);
    if (range.isEmpty()) {
      return new Reply(200, new Reply.Raw(contentType, contentEncoding, bytes, out));
    }
    long first = range.get()[0];
    if (first >= bytes.length) {
      out.put("Content-Range", "bytes */" + bytes.length);
      return new Reply(416, new Reply.Raw(contentType, contentEncoding, new byte[0], out));
    }
    long last = Math.min(range.get()[1], bytes.length - 1L);
    out.put("Content-Range", "bytes " + first + "-" + last + "/" + bytes.length);
    return new Reply(
        206,
        new Reply.Raw(
            contentType,
            contentEncoding,
            Arrays.copyOfRange(bytes, (int) first, (int) last + 1),
            out));
  }

  /**
   * The range asked for, {@code [first, last]} with {@code last} possibly beyond the end (clip it),
   * or empty when the whole representation is to be sent; for representations served as a stream.
   *
   * @param headers the request headers, names in lower case
   * @param etag the entity tag of the representation (quoted)
   */
  public static Optional<long[]> requested(Map<String, String> headers, String etag) {
    return range(headers, etag, 0);
  }

  private static Optional<long[]> range(Map<String, String> headers, String etag, int length) {
    String value = headers.get("range");
    if (value == null) {
      return Optional.empty();
    }
    String ifRange = headers.get("if-range");
    if (ifRange != null && !ifRange.trim().equals(etag)) {
      return Optional.empty();
    }
    Matcher m = RANGE.matcher(value.trim());
    if (!m.matches()) {
      return Optional.empty();
    }
    long first = Long.parseLong(m.group(1));
    long last = m.group(2).isEmpty() ? Long.MAX_VALUE : Long.parseLong(m.group(2));
    if (last < first) {
      return Optional.empty();
    }
    return Optional.of(new long[] {first, last});
  }
}
