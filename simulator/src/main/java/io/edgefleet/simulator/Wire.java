package io.edgefleet.simulator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/** HTTP/1.1 messages and RFC 6455 client framing, just what the device protocol needs. */
final class Wire {
  private Wire() {}

  static final int MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

  /** A complete HTTP response. */
  record Response(int status, Map<String, String> headers, byte[] body) {
    String header(String name) {
      return headers.getOrDefault(name.toLowerCase(Locale.ROOT), "");
    }
  }

  static ByteBuffer request(String method, String host, String path, byte[] body, String extra) {
    StringBuilder sb = new StringBuilder(160);
    sb.append(method).append(' ').append(path).append(" HTTP/1.1\r\n");
    sb.append("Host: ").append(host).append("\r\n");
    sb.append(extra);
    if (body != null) {
      sb.append("Content-Type: application/json\r\nContent-Length: ")
          .append(body.length)
          .append("\r\n");
    }
    sb.append("\r\n");
    byte[] head = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer b = ByteBuffer.allocate(head.length + (body == null ? 0 : body.length));
    b.put(head);
    if (body != null) {
      b.put(body);
    }
    return b.flip();
  }

  /**
   * Accumulates one HTTP response (Content-Length, chunked, or until the connection closes). After
   * a {@code 101} the bytes that follow the head are left in {@link #rest()}.
   */
  static final class ResponseReader {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream(512);
    private int status = -1;
    private Map<String, String> headers;
    private int bodyStart;
    private Response done;

    /** Adds bytes; returns the response once complete. */
    Response offer(ByteBuffer data) throws IOException {
      if (done != null) {
        return done;
      }
      byte[] chunk = new byte[data.remaining()];
      data.get(chunk);
      buf.write(chunk);
      if (buf.size() > MAX_RESPONSE_BYTES) {
        throw new IOException("response larger than " + MAX_RESPONSE_BYTES + " bytes");
      }
      if (headers == null) {
        byte[] all = buf.toByteArray();
        int end = indexOf(all, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        if (end < 0) {
          return null;
        }
        parseHead(new String(all, 0, end, StandardCharsets.ISO_8859_1));
        bodyStart = end + 4;
      }
      if (status == 101 || status == 204 || status == 304) {
        return done = new Response(status, headers, new byte[0]);
      }
      String length = headers.get("content-length");
      if (length != null) {
        int n = Integer.parseInt(length.trim());
        // The bytes are copied once the body is complete, not on every piece (large bodies).
        if (buf.size() - bodyStart >= n) {
          byte[] all = buf.toByteArray();
          byte[] body = new byte[n];
          System.arraycopy(all, bodyStart, body, 0, n);
          return done = new Response(status, headers, body);
        }
        return null;
      }
      if (headers
          .getOrDefault("transfer-encoding", "")
          .toLowerCase(Locale.ROOT)
          .contains("chunked")) {
        byte[] body = dechunk(buf.toByteArray(), bodyStart);
        return body == null ? null : (done = new Response(status, headers, body));
      }
      return null;
    }

    /** The connection ended: a response without a length ends here. */
    Response eof() {
      if (done != null || headers == null) {
        return done;
      }
      if (headers.get("content-length") == null && !headers.containsKey("transfer-encoding")) {
        byte[] all = buf.toByteArray();
        byte[] body = new byte[all.length - bodyStart];
        System.arraycopy(all, bodyStart, body, 0, body.length);
        return done = new Response(status, headers, body);
      }
      return null;
    }

    /** Bytes after the head of a 101 answer (the first WebSocket frames). */
    ByteBuffer rest() {
      byte[] all = buf.toByteArray();
      return ByteBuffer.wrap(all, bodyStart, all.length - bodyStart);
    }

    private void parseHead(String head) throws IOException {
      String[] lines = head.split("\r\n");
      String[] statusLine = lines[0].split(" ", 3);
      if (statusLine.length < 2 || !statusLine[0].startsWith("HTTP/1.")) {
        throw new IOException("not an HTTP response: " + lines[0]);
      }
      status = Integer.parseInt(statusLine[1]);
      headers = new TreeMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon > 0) {
          headers.put(
              lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
              lines[i].substring(colon + 1).trim());
        }
      }
    }
  }

  static byte[] dechunk(byte[] all, int start) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int p = start;
    while (true) {
      int eol = indexOf(all, p, "\r\n".getBytes(StandardCharsets.ISO_8859_1));
      if (eol < 0) {
        return null;
      }
      String size = new String(all, p, eol - p, StandardCharsets.ISO_8859_1);
      int semi = size.indexOf(';');
      int n;
      try {
        n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
      } catch (NumberFormatException e) {
        throw new IOException("bad chunk size: " + size);
      }
      int data = eol + 2;
      if (n == 0) {
        // Trailers are not used by the controller; the final CRLF ends the message.
        return indexOf(all, data, "\r\n".getBytes(StandardCharsets.ISO_8859_1)) < 0
            ? null
            : out.toByteArray();
      }
      if (all.length < data + n + 2) {
        return null;
      }
      out.write(all, data, n);
      p = data + n + 2;
    }
  }

  static int indexOf(byte[] hay, byte[] needle) {
    return indexOf(hay, 0, needle);
  }

  static int indexOf(byte[] hay, int from, byte[] needle) {
    outer:
    for (int i = from; i <= hay.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  // ------------------------------------------------------------------ WebSocket

  static final int OP_CONT = 0x0;
  static final int OP_TEXT = 0x1;
  static final int OP_BINARY = 0x2;
  static final int OP_CLOSE = 0x8;
  static final int OP_PING = 0x9;
  static final int OP_PONG = 0xA;

  /** A masked client frame (RFC 6455 §5.3: every client frame is masked). */
  static ByteBuffer frame(int opcode, byte[] payload) {
    int n = payload.length;
    int header = 2 + (n < 126 ? 0 : n < 65536 ? 2 : 8) + 4;
    ByteBuffer b = ByteBuffer.allocate(header + n);
    b.put((byte) (0x80 | opcode));
    if (n < 126) {
      b.put((byte) (0x80 | n));
    } else if (n < 65536) {
      b.put((byte) (0x80 | 126)).putShort((short) n);
    } else {
      b.put((byte) (0x80 | 127)).putLong(n);
    }
    int mask = ThreadLocalRandom.current().nextInt();
    b.putInt(mask);
    byte[] m = {(byte) (mask >>> 24), (byte) (mask >>> 16), (byte) (mask >>> 8), (byte) mask};
    for (int i = 0; i < n; i++) {
      b.put((byte) (payload[i] ^ m[i & 3]));
    }
    return b.flip();
  }

  static ByteBuffer closeFrame(int code, String reason) {
    byte[] r = reason.getBytes(StandardCharsets.UTF_8);
    ByteBuffer p = ByteBuffer.allocate(2 + r.length).putShort((short) code).put(r);
    return frame(OP_CLOSE, p.array());
  }

  /** What a frame reader hands on. */
  interface FrameSink {
    void message(int opcode, byte[] payload) throws IOException;
  }

  /**
   * Reads server frames (unmasked, possibly fragmented). Keeps only an incomplete frame's bytes
   * between calls, so an idle connection holds nothing.
   */
  static final class FrameReader {
    private static final int MAX_MESSAGE = 16 * 1024 * 1024;
    private byte[] pending;
    private ByteArrayOutputStream fragments;
    private int fragmentOpcode;

    void offer(ByteBuffer data, FrameSink sink) throws IOException {
      ByteBuffer b;
      if (pending != null) {
        b = ByteBuffer.allocate(pending.length + data.remaining()).put(pending).put(data).flip();
        pending = null;
      } else {
        b = data;
      }
      while (b.remaining() >= 2) {
        int start = b.position();
        int b0 = b.get() & 0xff;
        int b1 = b.get() & 0xff;
        long len = b1 & 0x7f;
        if (len == 126) {
          if (b.remaining() < 2) {
            b.position(start);
            break;
          }
          len = b.getShort() & 0xffff;
        } else if (len == 127) {
          if (b.remaining() < 8) {
            b.position(start);
            break;
          }
          len = b.getLong();
        }
        boolean masked = (b1 & 0x80) != 0;
        if (len > MAX_MESSAGE) {
          throw new IOException("WebSocket frame of " + len + " bytes");
        }
        if (b.remaining() < len + (masked ? 4 : 0)) {
          b.position(start);
          break;
        }
        byte[] mask = null;
        if (masked) {
          mask = new byte[4];
          b.get(mask);
        }
        byte[] payload = new byte[(int) len];
        b.get(payload);
        if (mask != null) {
          for (int i = 0; i < payload.length; i++) {
            payload[i] ^= mask[i & 3];
          }
        }
        boolean fin = (b0 & 0x80) != 0;
        int opcode = b0 & 0x0f;
        if (opcode >= OP_CLOSE) {
          sink.message(opcode, payload);
        } else if (opcode == OP_CONT) {
          if (fragments == null) {
            throw new IOException("continuation frame without a start");
          }
          fragments.write(payload);
          if (fin) {
            byte[] whole = fragments.toByteArray();
            fragments = null;
            sink.message(fragmentOpcode, whole);
          }
        } else if (fin) {
          sink.message(opcode, payload);
        } else {
          fragments = new ByteArrayOutputStream();
          fragmentOpcode = opcode;
          fragments.write(payload);
        }
      }
      if (b.hasRemaining()) {
        pending = new byte[b.remaining()];
        b.get(pending);
      }
    }
  }
}
