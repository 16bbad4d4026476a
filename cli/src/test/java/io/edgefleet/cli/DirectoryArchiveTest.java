package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Packing a directory for `apps push`. */
class DirectoryArchiveTest {
  @TempDir Path dir;

  @Test
  void regularFilesInSortedOrderWithRelativePathsAndLongNamesInPaxHeaders() throws Exception {
    String longName = "templates/" + "x".repeat(120) + ".yaml";
    write("values.yaml", "a: 1\n");
    write("Chart.yaml", "name: pos\n");
    write(longName, "long");
    Files.createDirectories(dir.resolve("empty"));

    Map<String, String> entries = read(DirectoryArchive.pack(dir));

    assertThat(entries.keySet()).containsExactly("Chart.yaml", longName, "values.yaml");
    assertThat(entries.get(longName)).isEqualTo("long");
    assertThat(DirectoryArchive.pack(dir)).isEqualTo(DirectoryArchive.pack(dir));
  }

  @Test
  void symbolicLinksAreRefused() throws Exception {
    write("a.yaml", "x");
    Files.createSymbolicLink(dir.resolve("b.yaml"), dir.resolve("a.yaml"));

    assertThatThrownBy(() -> DirectoryArchive.pack(dir))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("b.yaml in " + dir + " is a symbolic link");
  }

  @Test
  void aFileIsNotADirectory() throws Exception {
    write("a.yaml", "x");

    assertThatThrownBy(() -> DirectoryArchive.pack(dir.resolve("a.yaml")))
        .hasMessage(dir.resolve("a.yaml") + " is not a directory");
  }

  private void write(String path, String content) throws IOException {
    Path p = dir.resolve(path);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
  }

  /** A minimal tar reader (ustar names and pax paths) to check what was written. */
  static Map<String, String> read(byte[] tgz) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    try (DataInputStream in =
        new DataInputStream(new GZIPInputStream(new ByteArrayInputStream(tgz)))) {
      String pax = null;
      while (true) {
        byte[] h = new byte[512];
        in.readFully(h);
        if (h[0] == 0) {
          return out;
        }
        String name = new String(h, 0, 100, StandardCharsets.UTF_8).replaceAll("\0.*", "");
        int size = Integer.parseInt(new String(h, 124, 11, StandardCharsets.US_ASCII), 8);
        byte[] data = new byte[size];
        in.readFully(data);
        in.skipNBytes((512 - size % 512) % 512);
        String text = new String(data, StandardCharsets.UTF_8);
        if (h[156] == 'x') {
          pax = text.substring(text.indexOf("path=") + 5, text.length() - 1);
        } else {
          out.put(pax != null ? pax : name, text);
          pax = null;
        }
      }
    }
  }
}
