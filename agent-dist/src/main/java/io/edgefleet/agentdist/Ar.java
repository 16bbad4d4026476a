package io.edgefleet.agentdist;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Writes the {@code ar} archive a Debian package is: {@code !<arch>} and members in order. */
final class Ar {
  private final OutputStream out;
  private final long mtime;

  Ar(OutputStream out, long mtime) throws IOException {
    this.out = out;
    this.mtime = mtime;
    out.write("!<arch>\n".getBytes(StandardCharsets.US_ASCII));
  }

  void add(String name, byte[] data) throws IOException {
    if (name.length() > 16) {
      throw new IllegalArgumentException("ar member name longer than 16 characters: " + name);
    }
    String header =
        pad(name, 16)
            + pad(Long.toString(mtime), 12)
            + pad("0", 6)
            + pad("0", 6)
            + pad("100644", 8)
            + pad(Integer.toString(data.length), 10)
            + "`\n";
    out.write(header.getBytes(StandardCharsets.US_ASCII));
    out.write(data);
    if (data.length % 2 == 1) {
      out.write('\n');
    }
  }

  private static String pad(String s, int width) {
    return s + " ".repeat(width - s.length());
  }
}
