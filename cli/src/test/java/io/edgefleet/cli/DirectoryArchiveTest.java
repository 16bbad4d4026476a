package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
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

  /** The entries of a tar.gz, read with Commons Compress, in archive order. */
  static Map<String, String> read(byte[] tgz) throws IOException {
    Map<String, String> out = new LinkedHashMap<>();
    try (TarArchiveInputStream in =
        new TarArchiveInputStream(new GZIPInputStream(new ByteArrayInputStream(tgz)), "UTF-8")) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        assertThat(e.isFile()).isTrue();
        assertThat(e.getMode()).isEqualTo(0644);
        assertThat(e.getLastModifiedTime().toMillis()).isZero();
        assertThat(e.getUserName()).isEmpty();
        out.put(e.getName(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    return out;
  }
}
