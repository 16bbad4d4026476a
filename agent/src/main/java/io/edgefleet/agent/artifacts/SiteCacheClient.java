package io.edgefleet.agent.artifacts;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Requests to a site cache ({@link SiteCacheServer}): one connection per request, a bounded
 * connect, and a read timeout that abandons a transfer which stops moving. Thread-safe.
 */
final class SiteCacheClient {

  /** The cache is fetching the blob from the controller: ask again soon. */
  static final class Busy extends IOException {
    private final long verified;

    Busy(String message, long verified) {
      super(message);
      this.verified = verified;
    }

    /** Bytes of the blob the cache verified so far. */
    long verified() {
      return verified;
    }
  }

  /** An answer that is neither the content asked for nor {@link Busy}. */
  static final class Refused extends IOException {
    Refused(String message) {
      super(message);
    }
  }

  private static final int MAX_HEAD = 16 * 1024;
  private static final int MAX_CHUNK_LIST = 4 << 20;

  private final URI base;
  private final SSLContext tls;
  private final Duration connect;
  private final Duration read;

  /**
   * @param read how long a read may wait for a byte; longer than the server's pull-through wait
   */
  SiteCacheClient(URI base, SSLContext tls, Duration connect, Duration read) {
    if (!"https".equals(base.getScheme()) || base.getHost() == null || base.getPort() <= 0) {
      throw new IllegalArgumentException("a site cache URL is https://host:port; got " + base);
    }
    this.base = base;
    this.tls = tls;
    this.connect = connect;
    this.read = read;
  }

  URI base() {
    return base;
  }

  ArtifactChunks chunks(String digest) throws IOException {
    try (SSLSocket s = open();
        InputStream in = new BufferedInputStream(s.getInputStream())) {
      send(s.getOutputStream(), "/blobs/" + digest + "/chunks", null);
      Head h = Head.read(in);
      if (h.status() != 200) {
        throw h.failure(in);
      }
      if (h.length() < 0 || h.length() > MAX_CHUNK_LIST) {
        throw new IOException("the site cache's chunk list is too large or has no length");
      }
      byte[] body = in.readNBytes((int) h.length());
      if (body.length != h.length()) {
        throw new IOException("the site cache's chunk list was cut");
      }
      try {
        return JsonCodec.read(body, ArtifactChunks.class);
      } catch (RuntimeException e) {
        throw new IOException("the site cache answered a chunk list that cannot be read", e);
      }
    }
  }

  /**
   * Bytes {@code from} to {@code end - 1} of {@code digest}, handed to {@code receiver} as they
   * arrive; returns the count handed over. Exceptions from {@code receiver} propagate unchanged.
   */
  long range(String digest, long from, long end, ArtifactSource.Receiver receiver)
      throws IOException {
    try (SSLSocket s = open();
        InputStream in = new BufferedInputStream(s.getInputStream(), 64 * 1024)) {
      send(s.getOutputStream(), "/blobs/" + digest, "bytes=" + from + "-" + (end - 1));
      Head h = Head.read(in);
      if (h.status() != 206 && !(h.status() == 200 && from == 0)) {
        throw h.failure(in);
      }
      String range = h.headers().getOrDefault("content-range", "");
      if (h.status() == 206 && !range.startsWith("bytes " + from + "-")) {
        throw new IOException("the site cache answered another range: " + range);
      }
      long want = end - from;
      if (h.length() >= 0 && h.length() < want) {
        want = h.length();
      }
      byte[] buffer = new byte[64 * 1024];
      long got = 0;
      while (got < want) {
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, want - got));
        if (n < 0) {
          break;
        }
        got += n;
        receiver.take(ByteBuffer.wrap(buffer, 0, n));
      }
      return got;
    }
  }

  private SSLSocket open() throws IOException {
    SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket();
    try {
      s.connect(new InetSocketAddress(base.getHost(), base.getPort()), (int) connect.toMillis());
      s.setSoTimeout((int) read.toMillis());
      s.setTcpNoDelay(true);
      s.startHandshake();
      return s;
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private void send(OutputStream o, String path, String range) throws IOException {
    StringBuilder b = new StringBuilder();
    b.append("GET ").append(path).append(" HTTP/1.1\r\n");
    b.append("Host: ").append(base.getHost()).append(':').append(base.getPort()).append("\r\n");
    if (range != null) {
      b.append("Range: ").append(range).append("\r\n");
    }
    b.append("Connection: close\r\n\r\n");
    o.write(b.toString().getBytes(StandardCharsets.US_ASCII));
    o.flush();
  }

  /** An answer's status line and headers (lower-case names). */
  private record Head(int status, Map<String, String> headers) {
    long length() {
      try {
        return Long.parseLong(headers.getOrDefault("content-length", "-1").trim());
      } catch (NumberFormatException e) {
        return -1;
      }
    }

    IOException failure(InputStream in) throws IOException {
      long n = length();
      String text =
          n > 0 && n <= 4096
              ? new String(in.readNBytes((int) n), StandardCharsets.UTF_8).strip()
              : "";
      String message = "HTTP " + status + (text.isEmpty() ? "" : ": " + text);
      if (status == 503) {
        long verified = 0;
        try {
          verified =
              Long.parseLong(
                  headers.getOrDefault(
                      SiteCacheServer.VERIFIED_HEADER.toLowerCase(Locale.ROOT), "0"));
        } catch (NumberFormatException e) {
          verified = 0;
        }
        return new Busy(message, verified);
      }
      return new Refused(message);
    }

    static Head read(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      int last = 0;
      while (last != 0x0D0A0D0A) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("the site cache closed the connection before answering");
        }
        if (head.size() >= MAX_HEAD) {
          throw new IOException("the site cache's answer head is too large");
        }
        head.write(b);
        last = (last << 8) | b;
      }
      String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
      String[] first = lines[0].split(" ", 3);
      int status;
      try {
        status = first.length >= 2 ? Integer.parseInt(first[1]) : -1;
      } catch (NumberFormatException e) {
        status = -1;
      }
      if (status < 100 || !first[0].startsWith("HTTP/1.")) {
        throw new IOException("the site cache answered no HTTP/1.1 status line");
      }
      Map<String, String> headers = new LinkedHashMap<>();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon > 0) {
          headers.put(
              lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
              lines[i].substring(colon + 1).trim());
        }
      }
      return new Head(status, headers);
    }
  }
}
