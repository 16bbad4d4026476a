package io.edgefleet.controller.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
    String longAbsolute = "/etc/" + "x".repeat(120);
    assertInvalid(
        Tars.create().paxFile(longAbsolute, "x").tgz(),
        "'" + longAbsolute + "' has an absolute path");
    assertInvalid(
        Tars.create().gnuLongNameFile(longAbsolute, "x").tgz(),
        "'" + longAbsolute + "' has an absolute path");
    assertInvalid(
        Tars.create().paxFile("templates/" + "x".repeat(120) + "/../../../evil", "x").tgz(),
        "leaves the archive");
    assertInvalid(
        Tars.create()
            .paxHeader(
                'x', Tars.record("GNU.sparse.map", "0,1"), Tars.record("GNU.sparse.size", "1"))
            .file("sparse.bin", "x")
            .tgz(),
        "'sparse.bin' is a sparse file");
  }

  @Test
  void aChainOfExtensionHeadersLongerThanAnyToolWritesIsRefused() {
    Tars fine = Tars.create();
    Tars chain = Tars.create();
    for (int i = 0; i < 4; i++) {
      fine.paxHeader('x', Tars.record("comment", "c" + i));
    }
    for (int i = 0; i < 20; i++) {
      chain.paxHeader('x', Tars.record("comment", "c" + i));
    }

    assertThat(Archives.readTarGz(fine.file("a.yaml", "x").tgz())).containsOnlyKeys("a.yaml");
    assertInvalid(chain.file("a.yaml", "x").tgz(), "pax headers or GNU long names in a row");
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
  void aFileWhoseHeaderClaimsMoreThanTheLimitIsRefusedBeforeItsContentIsRead() {
    // The pax size record overrides the header's 1 byte: 100 GiB, more than any array holds.
    assertInvalid(
        Tars.create()
            .paxHeader('x', Tars.record("size", String.valueOf(100L << 30)))
            .file("a.bin", "x")
            .tgz(),
        "more than 64 MiB of files uncompressed");
    byte[] justOver = new byte[(int) Archives.MAX_BYTES + 1];
    assertInvalid(
        Tars.create().file("a.bin", justOver).tgz(), "more than 64 MiB of files uncompressed");
    byte[] atTheLimit = new byte[(int) Archives.MAX_BYTES];
    assertThat(Archives.readTarGz(Tars.create().file("a.bin", atTheLimit).tgz()).get("a.bin"))
        .hasSize((int) Archives.MAX_BYTES);
  }

  @Test
  void malformedPaxRecordsAreRefused() {
    assertInvalid(
        Tars.create().paxHeader('x', "abc path=x\n").file("a.yaml", "x").tgz(),
        "not a valid tar file");
    assertInvalid(
        Tars.create().paxHeader('x', Tars.record("size", "-5")).file("a.yaml", "x").tgz(),
        "not a valid tar file");
    assertInvalid(
        Tars.create().paxHeader('x', "99 path=short\n").file("a.yaml", "x").tgz(),
        "not a valid tar file");
  }

  @Test
  void aTarCutShortIsRefusedUnlessTheCutFollowsTheLastEntry() {
    byte[] file = Tars.raw("a.yaml", '0', "x".repeat(1000).getBytes(StandardCharsets.UTF_8), "");
    byte[] next = Tars.raw("b.yaml", '0', "y".getBytes(StandardCharsets.UTF_8), "");
    byte[] both = java.util.Arrays.copyOf(file, file.length + next.length);
    System.arraycopy(next, 0, both, file.length, next.length);

    assertInvalid(
        Archives.gzip(java.util.Arrays.copyOf(file, 512 + 600)),
        "the archive ends in the middle of 'a.yaml'");
    assertInvalid(
        Archives.gzip(java.util.Arrays.copyOf(both, file.length + 300)),
        "the archive ends in the middle of a tar header");
    // Without the two zero blocks that end an archive, as tar itself accepts.
    assertThat(Archives.readTarGz(Archives.gzip(both)).keySet())
        .containsExactly("a.yaml", "b.yaml");
  }

  @Test
  void paxHeadersCountTowardTheLimitsWhileTheFilesStaySmall() {
    // 1,900 files of one byte, each after a pax header of 64,000 bytes: 122 MB unpacked.
    Tars t = Tars.create();
    for (int i = 0; i < 1_900; i++) {
      t.paxHeader('x', Tars.recordOfSize(64_000)).file("f" + i + ".yaml", "x");
    }
    byte[] tgz = t.tgz();
    assertThat(tgz.length).isLessThan(1 << 20);

    assertInvalid(tgz, "pax headers and GNU long names take more than 8 MiB");
    assertInvalid(
        Tars.create().paxHeader('x', Tars.recordOfSize(100_000)).file("a.yaml", "x").tgz(),
        "a pax header or GNU long name larger than 64 KiB");
    assertInvalid(
        Tars.create().paxHeader('g', Tars.recordOfSize(100_000)).file("a.yaml", "x").tgz(),
        "a pax header or GNU long name larger than 64 KiB");
  }

  @Test
  void gnuLongNamesCountTowardTheLimitsWhileTheFilesStaySmall() {
    // Each name is followed by 64,000 NUL bytes, which end the name and are otherwise ignored.
    Tars t = Tars.create();
    for (int i = 0; i < 1_900; i++) {
      t.gnuLongNameFile("f" + i + ".yaml", "x", 64_000);
    }
    byte[] tgz = t.tgz();
    assertThat(tgz.length).isLessThan(1 << 20);

    assertInvalid(tgz, "pax headers and GNU long names take more than 8 MiB");
  }

  @Test
  void everyUnpackedByteCountsTowardTheLimitHeadersAndPaddingIncluded() {
    // 2,100 empty directories: no file data at all, 1 MiB of tar headers.
    Tars dirs = Tars.create();
    for (int i = 0; i < 2_100; i++) {
      dirs.directory("d" + i + "/");
    }
    byte[] tgz = dirs.tgz();

    assertThat(Archives.readTarGz(tgz)).isEmpty();
    assertThatThrownBy(() -> Archives.readTarGz(new java.io.ByteArrayInputStream(tgz), 1L << 20))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("the archive unpacks to more than 1 MiB")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
  }

  /**
   * Streams that would unpack to several gigabytes: pax headers (as large as the per-header limit
   * allows, or far larger) each followed by a directory entry, 100,000 times over. Reading stops at
   * the first limit it reaches, long before the end of the stream.
   */
  @ParameterizedTest
  @ValueSource(ints = {64_000, 1_000_000})
  @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void readingStopsEarlyOnAStreamOfExtensionHeaders(int paxBytes) {
    byte[] pax =
        Tars.raw(
            "PaxHeaders/x", 'x', Tars.recordOfSize(paxBytes).getBytes(StandardCharsets.UTF_8), "");
    byte[] dir = Tars.raw("d/", '5', new byte[0], "");
    byte[] unit = java.util.Arrays.copyOf(pax, pax.length + dir.length);
    System.arraycopy(dir, 0, unit, pax.length, dir.length);
    RepeatedTarGz in = new RepeatedTarGz(unit, 100_000);
    assertThat(in.unpackedTotal()).isGreaterThan(4L << 30);

    assertThatThrownBy(() -> Archives.readTarGz(in, Archives.MAX_INFLATED))
        .isInstanceOf(ControllerException.class)
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.CATALOG_CONTENT_INVALID);
    assertThat(in.unpackedServed()).isLessThanOrEqualTo(Archives.MAX_INFLATED + unit.length);
    assertThat(in.compressedRead()).isLessThan(1 << 20);
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
