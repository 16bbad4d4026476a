package io.edgefleet.testkit.oci;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The test image builder writes archives that the real tools read and run. */
class OciImagesIT {
  @TempDir Path dir;

  @Test
  void theSameInputsGiveTheSameDigests() throws IOException {
    OciImages.Built a =
        OciImages.busybox().cmd("/bin/echo", "a").writeArchive(dir.resolve("a.tar"));
    OciImages.Built b =
        OciImages.busybox().cmd("/bin/echo", "a").writeArchive(dir.resolve("b.tar"));
    OciImages.Built c =
        OciImages.busybox().cmd("/bin/echo", "c").writeArchive(dir.resolve("c.tar"));
    assertThat(b.archiveDigest()).isEqualTo(a.archiveDigest());
    assertThat(b.manifestDigest()).isEqualTo(a.manifestDigest());
    assertThat(c.manifestDigest()).isNotEqualTo(a.manifestDigest());
    assertThat(OciImages.sha256(Files.readAllBytes(a.archive()))).isEqualTo(a.archiveDigest());
  }

  @Test
  void skopeoReadsTheArchiveAndPodmanRunsIt() throws Exception {
    OciImages.Built image =
        OciImages.busybox()
            .file("etc/greeting", "hello from the layer\n", 0644)
            .cmd("/bin/cat", "/etc/greeting")
            .writeArchive(dir.resolve("image.tar"));
    String inspect = run("skopeo", "inspect", "--raw", "oci-archive:" + image.archive());
    assertThat(OciImages.sha256(inspect.getBytes(StandardCharsets.UTF_8)))
        .isEqualTo(image.manifestDigest());
    String loaded = run("podman", "load", "-q", "-i", image.archive().toString());
    String id = loaded.substring(loaded.lastIndexOf(' ') + 1).trim();
    try {
      // Podman's default process limits can exceed what a confined host grants: set them.
      assertThat(
              run(
                  "podman",
                  "run",
                  "--rm",
                  "--ulimit",
                  "nofile=1024:1024",
                  "--ulimit",
                  "nproc=1024:1024",
                  id))
          .isEqualTo("hello from the layer\n");
    } finally {
      run("podman", "rmi", "-f", id);
    }
  }

  private static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + ": " + out).isZero();
    return out;
  }
}
