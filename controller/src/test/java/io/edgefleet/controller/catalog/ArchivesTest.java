package io.edgefleet.controller.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Reading uploaded archives safely, and the canonical digest of a file tree. */
class ArchivesTest {

  @Test
  void readsRegularFilesWithoutDotSlashAndSkipsDirectories() {
    byte[] tgz =
        Tars.create()
            .directory("./")
            .directory("./templates/")
            .file("./Chart.yaml", "name: x\n")
            .file("templates/a.yaml", "a")
            .tgz();

    SortedMap<String, byte[]> files = Archives.readTarGz(tgz);

    assertThat(files.keySet()).containsExactly("Chart.yaml", "templates/a.yaml");
    assertThat(new String(files.get("templates/a.yaml"), StandardCharsets.UTF_8)).isEqualTo("a");
  }

  @Test
  void longPathsFromPaxAndGnuHeadersAreUsed() {
    String longPath = "templates/" + "a".repeat(120) + ".yaml";
    String other = "templates/" + "b".repeat(150) + ".yaml";

    SortedMap<String, byte[]> files =
        Archives.readTarGz(
            Tars.create().paxFile(longPath, "pax").gnuLongNameFile(other, "gnu").tgz());

    assertThat(files.keySet()).containsExactly(longPath, other);
    assertThat(new String(files.get(longPath), StandardCharsets.UTF_8)).isEqualTo("pax");
    assertThat(new String(files.get(other), StandardCharsets.UTF_8)).isEqualTo("gnu");
  }

  @Test
  void aSingleTopLevelDirectoryIsStrippedAsInHelmPackageArchives() {
    TreeMap<String, byte[]> packaged = new TreeMap<>();
    packaged.put("web/Chart.yaml", new byte[] {1});
    packaged.put("web/templates/a.yaml", new byte[] {2});
    TreeMap<String, byte[]> flat = new TreeMap<>();
    flat.put("Chart.yaml", new byte[] {1});
    flat.put("web/a.yaml", new byte[] {2});
    TreeMap<String, byte[]> two = new TreeMap<>();
    two.put("a/x.yaml", new byte[] {1});
    two.put("b/y.yaml", new byte[] {2});

    assertThat(Archives.stripTopDirectory(packaged).keySet())
        .containsExactly("Chart.yaml", "templates/a.yaml");
    assertThat(Archives.stripTopDirectory(flat)).isSameAs(flat);
    assertThat(Archives.stripTopDirectory(two)).isSameAs(two);
  }

  @Test
  void theDigestDependsOnPathsAndBytesOnlyNotOnArchiveOrder() {
    Map<String, String> forward = new LinkedHashMap<>();
    forward.put("a.yaml", "1");
    forward.put("b/c.yaml", "2");
    Map<String, String> backward = new LinkedHashMap<>();
    backward.put("./top/b/c.yaml", "2");
    backward.put("./top/a.yaml", "1");

    String d1 = Archives.digest(Archives.readTarGz(Tars.of(forward)));
    String d2 = Archives.digest(Archives.stripTopDirectory(Archives.readTarGz(Tars.of(backward))));
    String d3 =
        Archives.digest(Archives.readTarGz(Tars.of(Map.of("a.yaml", "1", "b/c.yaml", "3"))));
    String d4 =
        Archives.digest(Archives.readTarGz(Tars.of(Map.of("a.yaml", "1", "b/d.yaml", "2"))));

    assertThat(d1).startsWith("sha256:").hasSize(71).isEqualTo(d2);
    assertThat(d3).isNotEqualTo(d1);
    assertThat(d4).isNotEqualTo(d1);
  }

  @Test
  void encodingRoundTrips() {
    SortedMap<String, byte[]> files = Archives.readTarGz(Tars.of(Map.of("x/y.yaml", "é", "z", "")));

    SortedMap<String, byte[]> back =
        Archives.decode(Archives.gunzip(Archives.gzip(Archives.encode(files))));

    assertThat(back.keySet()).containsExactly("x/y.yaml", "z");
    assertThat(Archives.digest(back)).isEqualTo(Archives.digest(files));
  }

  @Test
  void unsafeEntriesAreRefusedWithTheirPath() {
    assertInvalid(
        Tars.create().file("/etc/passwd", "x").tgz(), "'/etc/passwd' has an absolute path");
    assertInvalid(
        Tars.create().file("templates/../../evil.yaml", "x").tgz(),
        "'templates/../../evil.yaml' leaves the archive");
    assertInvalid(
        Tars.create().symlink("templates/link.yaml", "/etc/passwd").tgz(),
        "'templates/link.yaml' is a symbolic link");
    assertInvalid(
        Tars.create().entry("hard", '1', new byte[0], "Chart.yaml").tgz(), "'hard' is a hard link");
    assertInvalid(
        Tars.create().entry("dev/sda", '4', new byte[0], "").tgz(), "'dev/sda' is a device file");
    assertInvalid(Tars.create().entry("pipe", '6', new byte[0], "").tgz(), "'pipe' is a FIFO");
    assertInvalid(
        Tars.create().file("a.yaml", "1").file("./a.yaml", "2").tgz(),
        "'a.yaml' occurs twice in the archive");
  }

  @Test
  void tooManyFilesOrTooManyBytesAreRefused() {
    Tars many = Tars.create();
    for (int i = 0; i <= Archives.MAX_FILES; i++) {
      many.file("f" + i + ".yaml", "");
    }
    assertInvalid(many.tgz(), "more than 2000 files");

    // Zeros compress to almost nothing: the limit is on what the archive unpacks to.
    byte[] big = new byte[(int) (Archives.MAX_BYTES / 2) + 1];
    byte[] bomb = Tars.create().file("a.bin", big).file("b.bin", big).tgz();
    assertThat(bomb.length).isLessThan(1 << 20);
    assertInvalid(bomb, "more than 64 MiB of files uncompressed");
  }

  @Test
  void somethingThatIsNotATarGzIsRefused() {
    assertInvalid("just text".getBytes(StandardCharsets.UTF_8), "not gzip-compressed");
    byte[] tgz = Tars.of(Map.of("a.yaml", "x"));
    byte[] cut = java.util.Arrays.copyOf(tgz, tgz.length / 2);
    assertThatThrownBy(() -> Archives.readTarGz(cut))
        .isInstanceOf(ControllerException.class)
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
    byte[] garbage = Archives.gzip("x".repeat(600).getBytes(StandardCharsets.UTF_8));
    assertInvalid(garbage, "not a valid tar file");
  }

  private static void assertInvalid(byte[] tgz, String message) {
    assertThatThrownBy(() -> Archives.readTarGz(tgz))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining(message)
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
  }
}
