package io.edgefleet.agent.update;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReleaseArchiveTest {
  @TempDir Path dir;

  private Path archive(byte[] gz) throws Exception {
    Path f = dir.resolve("release.tar.gz");
    Files.write(f, gz);
    return f;
  }

  private static final ReleaseArchive.Limits LIMITS = ReleaseArchive.Limits.defaults();

  @Test
  void regularFilesAndDirectoriesAreExtracted() throws Exception {
    Path f =
        archive(
            new Tar()
                .dir("./")
                .file("release.json", "{}")
                .dir("lib/")
                .file("lib/a.jar", "jar-a")
                .file("./lib/b.jar", "jar-b")
                .gzip());
    Path out = dir.resolve("out");
    assertThat(ReleaseArchive.extract(f, out, LIMITS))
        .containsExactly("release.json", "lib/a.jar", "lib/b.jar");
    assertThat(out.resolve("lib/b.jar")).hasContent("jar-b");
  }

  @Test
  void longNamesOfPaxAndGnuTarAreRead() throws Exception {
    String longName = "lib/" + "x".repeat(150) + ".jar";
    String other = "lib/" + "y".repeat(150) + ".jar";
    Path f =
        archive(
            new Tar()
                .paxPath(longName)
                .file("ignored", "pax")
                .gnuLongName(other)
                .file("ignored2", "gnu")
                .gzip());
    Path out = dir.resolve("out");
    assertThat(ReleaseArchive.extract(f, out, LIMITS)).containsExactly(longName, other);
    assertThat(out.resolve(longName)).hasContent("pax");
    assertThat(out.resolve(other)).hasContent("gnu");
  }

  @Test
  void anArchiveOfTheSystemTarIsRead() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/tar")), "no tar here");
    Path src = Files.createDirectories(dir.resolve("src/lib"));
    Files.writeString(src.resolveSibling("release.json"), "{}");
    Files.writeString(src.resolve("z".repeat(120) + ".jar"), "jar");
    Process p =
        new ProcessBuilder(
                "/bin/tar",
                "-czf",
                dir.resolve("sys.tar.gz").toString(),
                "-C",
                dir.resolve("src").toString(),
                "release.json",
                "lib")
            .inheritIO()
            .start();
    assertThat(p.waitFor()).isZero();
    Path out = dir.resolve("out");
    assertThat(ReleaseArchive.extract(dir.resolve("sys.tar.gz"), out, LIMITS))
        .contains("release.json", "lib/" + "z".repeat(120) + ".jar");
  }

  @Test
  void pathsLeavingTheRootAreRefused() throws Exception {
    for (byte[] bad :
        new byte[][] {
          new Tar().file("../evil", "x").gzip(),
          new Tar().file("lib/../../evil", "x").gzip(),
          new Tar().file("/etc/evil", "x").gzip(),
          new Tar().paxPath("../../evil").file("fine", "x").gzip(),
          new Tar().gnuLongName("/abs/evil").file("fine", "x").gzip()
        }) {
      Path out = dir.resolve("out-" + System.nanoTime());
      assertThatThrownBy(() -> ReleaseArchive.extract(archive(bad), out, LIMITS))
          .isInstanceOf(ReleaseArchive.Refused.class)
          .hasMessageMatching(".*(absolute|'\\.\\.').*");
      assertThat(dir.resolve("evil")).doesNotExist();
    }
  }

  @Test
  void linksAndSpecialFilesAreRefused() throws Exception {
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive(new Tar().symlink("lib/a.jar", "/etc/passwd").gzip()),
                    dir.resolve("o1"),
                    LIMITS))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("link");
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive(new Tar().file("a", "x").hardlink("b", "a").gzip()),
                    dir.resolve("o2"),
                    LIMITS))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("link");
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive(new Tar().fifo("p").gzip()), dir.resolve("o3"), LIMITS))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("regular files and directories only");
  }

  @Test
  void sizeAndEntryCountAreBounded() throws Exception {
    Tar many = new Tar();
    for (int i = 0; i < 11; i++) {
      many.file("f" + i, "x");
    }
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive(many.gzip()),
                    dir.resolve("o1"),
                    new ReleaseArchive.Limits(1 << 20, 10)))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("more than 10 entries");
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive(new Tar().file("big", new byte[5000]).gzip()),
                    dir.resolve("o2"),
                    new ReleaseArchive.Limits(4096, 10)))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("more than 4096 bytes");
  }

  @Test
  void truncatedAndDamagedFilesAreRefused() throws Exception {
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive(new Tar().file("a", "x").gzip(false)), dir.resolve("o1"), LIMITS))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("truncated");
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive("not gzip at all".getBytes()), dir.resolve("o2"), LIMITS))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("not a gzip file");
    byte[] gz = new Tar().file("a", "x").gzip();
    byte[] raw =
        new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(gz)).readAllBytes();
    raw[10] ^= 1;
    java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(o)) {
      z.write(raw);
    }
    assertThatThrownBy(
            () -> ReleaseArchive.extract(archive(o.toByteArray()), dir.resolve("o3"), LIMITS))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("checksum");
  }

  @Test
  void anEntryTwiceIsRefused() throws Exception {
    assertThatThrownBy(
            () ->
                ReleaseArchive.extract(
                    archive(new Tar().file("a", "x").file("./a", "y").gzip()),
                    dir.resolve("o"),
                    LIMITS))
        .isInstanceOf(ReleaseArchive.Refused.class)
        .hasMessageContaining("twice");
  }
}
