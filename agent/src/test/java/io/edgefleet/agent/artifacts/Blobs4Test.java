package io.edgefleet.agent.artifacts;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.ArtifactRef;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/** Test blobs, their chunk lists and a clock the tests move. */
final class Blobs4Test {
  private Blobs4Test() {}

  static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + i / 251 + seed);
    }
    return b;
  }

  static String digest(byte[] b) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static ArtifactChunks chunks(byte[] b, int chunkSize) {
    List<String> out = new ArrayList<>();
    for (int at = 0; at < b.length; at += chunkSize) {
      out.add(digest(Arrays.copyOfRange(b, at, Math.min(b.length, at + chunkSize))));
    }
    return new ArtifactChunks(digest(b), b.length, chunkSize, out);
  }

  static ArtifactRef ref(byte[] b) {
    return new ArtifactRef(digest(b), b.length);
  }

  static ByteBuffer slice(byte[] b, int from, int to) {
    return ByteBuffer.wrap(Arrays.copyOfRange(b, from, to));
  }

  /** A clock that stands still until moved. */
  static final class MovingClock extends Clock {
    private volatile Instant now;

    MovingClock(Instant now) {
      this.now = now;
    }

    void set(Instant t) {
      now = t;
    }

    void advance(java.time.Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
