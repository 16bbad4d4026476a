package io.edgefleet.protocol;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/** gzip for bundles on the wire; inflating is bounded so a hostile stream cannot exhaust memory. */
public final class Gzip {
  private Gzip() {}

  public static byte[] deflate(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, data.length / 4));
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * @throws IOException if the stream is corrupt or inflates to more than {@code maxBytes}
   */
  public static byte[] inflate(byte[] data, int maxBytes) throws IOException {
    try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(data))) {
      byte[] out = in.readNBytes(maxBytes + 1);
      if (out.length > maxBytes) {
        throw new IOException("compressed content inflates to more than " + maxBytes + " bytes");
      }
      return out;
    }
  }
}
