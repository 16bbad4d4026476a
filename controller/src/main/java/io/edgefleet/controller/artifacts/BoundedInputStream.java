package io.edgefleet.controller.artifacts;

import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Exactly {@code count} bytes of a stream: it ends after them, and a source that ends sooner is an
 * error (a blob shorter than its catalogue says), not a short read the caller would take as whole.
 */
final class BoundedInputStream extends FilterInputStream {
  private long left;

  BoundedInputStream(InputStream in, long count) {
    super(in);
    if (count < 0) {
      throw new IllegalArgumentException("count must not be negative");
    }
    this.left = count;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (left == 0) {
      return -1;
    }
    if (len == 0) {
      return 0;
    }
    int n = in.read(b, off, (int) Math.min(len, left));
    if (n < 0) {
      throw new EOFException("the blob ended " + left + " bytes early");
    }
    left -= n;
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped = in.skip(Math.min(n, left));
    left -= skipped;
    return skipped;
  }

  @Override
  public int available() throws IOException {
    return (int) Math.min(in.available(), left);
  }

  @Override
  public boolean markSupported() {
    return false;
  }
}
