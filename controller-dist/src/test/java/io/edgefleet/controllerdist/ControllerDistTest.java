package io.edgefleet.controllerdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControllerDistTest {
  private static final long MTIME = 1767225600L;

  @TempDir Path dir;

  @Test
  void namesTimesAndTheImagesStart() {
    assertThat(ControllerDist.arch("amd64")).isEqualTo("amd64");
    assertThat(ControllerDist.arch("aarch64")).isEqualTo("arm64");
    assertThatThrownBy(() -> ControllerDist.arch("sparc")).hasMessageContaining("sparc");
    assertThat(ControllerDist.baseName("0.2.0", "amd64"))
        .isEqualTo("edgefleet-controller-0.2.0-linux-amd64");
    assertThat(ControllerDist.mtime("2026-01-01T00:00:00Z")).isEqualTo(MTIME);
    assertThat(ControllerDist.mtime("${project.build.outputTimestamp}")).isZero();
    assertThat(ControllerDist.entrypoint("a.Main"))
        .startsWith("/opt/edgefleet-controller/runtime/bin/java")
        .containsSubsequence("-cp", "/opt/edgefleet-controller/lib/*", "a.Main")
        .endsWith("--data=/var/lib/edgefleet/controller");
  }

  @Test
  void lddOutputGivesTheSystemLibrariesOnly() {
    String ldd =
        """
        \tlinux-vdso.so.1 (0x00007ffd)
        \tlibjli.so => /x/runtime/lib/libjli.so (0x00007f01)
        \tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f02)
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f03)
        \tlibjvm.so => not found
        \t/lib64/ld-linux-x86-64.so.2 (0x00007f04)
        """;
    assertThat(
            SharedLibraries.parse(
                ldd, Path.of("/x/runtime/lib/libjava.so"), "/x/runtime/", Set.of("libjvm.so")))
        .containsExactly(
            "/lib/x86_64-linux-gnu/libz.so.1",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2");
    // A library neither on the machine nor in the runtime: the image would not start.
    assertThatThrownBy(
            () ->
                SharedLibraries.parse(
                    "\tlibfoo.so.2 => not found\n",
                    Path.of("/x/runtime/bin/java"),
                    "/x/runtime/",
                    Set.of()))
        .hasMessageContaining("libfoo.so.2");
  }

  @Test
  void tarEntriesAreSortedCompletedAndOwnedAsGiven() throws Exception {
    List<Node> nodes =
        List.of(
            Node.file("b/z.txt", 0644, bytes("z")),
            Node.directory("var/lib/data").ownedBy(10001, 0700),
            Node.file("a/y.sh", 0755, bytes("#!/bin/sh\n")));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ReproducibleTar.write(out, nodes, MTIME);
    List<String> seen = new ArrayList<>();
    try (TarArchiveInputStream tar =
        new TarArchiveInputStream(new java.io.ByteArrayInputStream(out.toByteArray()))) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        assertThat(e.getModTime().getTime()).isEqualTo(MTIME * 1000);
        seen.add(
            e.getName()
                + " "
                + Integer.toOctalString(e.getMode() & 07777)
                + " "
                + e.getLongUserId());
      }
    }
    assertThat(seen)
        .containsExactly(
            "a/ 755 0",
            "a/y.sh 755 0",
            "b/ 755 0",
            "b/z.txt 644 0",
            "var/ 755 0",
            "var/lib/ 755 0",
            "var/lib/data/ 700 10001");
    assertThatThrownBy(
            () ->
                ReproducibleTar.write(
                    new ByteArrayOutputStream(),
                    List.of(Node.file("a", 0644, bytes("x")), Node.file("a/b", 0644, bytes("y"))),
                    MTIME))
        .hasMessageContaining("a is a file and the parent of a/b");
  }

  @Test
  void imageLayoutHasCorrectDigestsAndIsReproducible() throws Exception {
    List<Node> layer =
        List.of(
            Node.file("opt/app/run", 0755, bytes("#!/bin/sh\necho hi\n")),
            Node.directory("var/lib/edgefleet").ownedBy(10001, 0700));
    OciImage.Config config =
        new OciImage.Config(
            "edgefleet-controller:1.0.0",
            List.of("/opt/app/run"),
            List.of(),
            List.of("PATH=/usr/bin"),
            "10001:10001",
            "/var/lib/edgefleet",
            List.of("7443/tcp"),
            Map.of("org.opencontainers.image.version", "1.0.0"));
    Path first = dir.resolve("first.tar");
    Path second = dir.resolve("second.tar");
    OciImage.Written written = OciImage.write(first, dir, layer, config, MTIME);
    OciImage.Written again = OciImage.write(second, dir, layer, config, MTIME);
    assertThat(again).isEqualTo(written);
    assertThat(Files.readAllBytes(second)).isEqualTo(Files.readAllBytes(first));

    Map<String, byte[]> files = untar(first);
    assertThat(files.keySet())
        .containsExactlyInAnyOrder(
            "blobs/",
            "blobs/sha256/",
            "blobs/sha256/" + hex(written.configDigest()),
            "blobs/sha256/" + hex(written.layerDigest()),
            "blobs/sha256/" + hex(written.manifestDigest()),
            "index.json",
            "oci-layout");
    // Every blob is named by its content's digest.
    files.forEach(
        (name, content) -> {
          if (name.startsWith("blobs/sha256/") && !name.endsWith("/")) {
            assertThat(OciImage.sha256(content)).isEqualTo("sha256:" + name.substring(13));
          }
        });
    JsonNode index = Json.mapper().readTree(files.get("index.json"));
    JsonNode ref = index.path("manifests").get(0);
    assertThat(ref.path("digest").asText()).isEqualTo(written.manifestDigest());
    assertThat(ref.path("annotations").path("org.opencontainers.image.ref.name").asText())
        .isEqualTo("edgefleet-controller:1.0.0");
    JsonNode manifest = Json.mapper().readTree(blob(files, written.manifestDigest()));
    assertThat(manifest.path("config").path("size").asLong())
        .isEqualTo(blob(files, written.configDigest()).length);
    assertThat(manifest.path("layers").get(0).path("size").asLong())
        .isEqualTo(blob(files, written.layerDigest()).length);
    JsonNode imageConfig = Json.mapper().readTree(blob(files, written.configDigest()));
    assertThat(imageConfig.path("config").path("User").asText()).isEqualTo("10001:10001");
    assertThat(imageConfig.path("config").path("ExposedPorts").has("7443/tcp")).isTrue();
    assertThat(imageConfig.path("created").asText()).isEqualTo("2026-01-01T00:00:00Z");
    // The diff ID is the digest of the uncompressed layer, which holds the entries given.
    byte[] uncompressed;
    try (InputStream gz =
        new GZIPInputStream(new java.io.ByteArrayInputStream(blob(files, written.layerDigest())))) {
      uncompressed = gz.readAllBytes();
    }
    assertThat(imageConfig.path("rootfs").path("diff_ids").get(0).asText())
        .isEqualTo(written.diffId())
        .isEqualTo(OciImage.sha256(uncompressed));
    Path layerTar = Files.write(dir.resolve("layer.tar"), uncompressed);
    assertThat(untar(layerTar).keySet()).contains("opt/app/run", "var/lib/edgefleet/");
  }

  private static byte[] blob(Map<String, byte[]> files, String digest) {
    return files.get("blobs/sha256/" + hex(digest));
  }

  private static String hex(String digest) {
    return digest.substring("sha256:".length());
  }

  private static Map<String, byte[]> untar(Path file) throws Exception {
    Map<String, byte[]> files = new LinkedHashMap<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(file))) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        files.put(e.getName(), tar.readAllBytes());
      }
    }
    return files;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
