package io.edgefleet.agent.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.protocol.ArtifactRef;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArtifactsTest {
  @TempDir Path state;

  static ArtifactRef ref(byte[] content) throws Exception {
    return new ArtifactRef(
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)),
        content.length);
  }

  @Test
  void aVerifiedArtifactIsExecutableAndFetchedOnce() throws Exception {
    byte[] k3s = "#!/bin/sh\necho k3s\n".getBytes(StandardCharsets.UTF_8);
    AtomicInteger downloads = new AtomicInteger();
    Artifacts a =
        new Artifacts(
            state,
            (digest, file, max) -> {
              downloads.incrementAndGet();
              Files.write(file, k3s);
            });
    Path p = a.ensure(ref(k3s));
    assertThat(p).hasBinaryContent(k3s);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p)))
        .isEqualTo("rwxr-xr-x");
    assertThat(a.ensure(ref(k3s))).isEqualTo(p);
    // A fresh agent finds it on disk and checks it instead of fetching it again.
    assertThat(new Artifacts(state, (d, f, m) -> downloads.incrementAndGet()).ensure(ref(k3s)))
        .isEqualTo(p);
    assertThat(downloads).hasValue(1);
  }

  @Test
  void bytesThatDoNotMatchTheDigestAreRefusedAndDropped() throws Exception {
    byte[] wanted = "the real k3s".getBytes(StandardCharsets.UTF_8);
    Artifacts a =
        new Artifacts(
            state,
            (digest, file, max) ->
                Files.write(file, "the evil k3s".getBytes(StandardCharsets.UTF_8)));
    assertThatThrownBy(() -> a.ensure(ref(wanted)))
        .hasMessageContaining("does not match that digest")
        .hasMessageContaining("ARTIFACT_DIGEST_MISMATCH");
    try (var files = Files.list(a.dir())) {
      assertThat(files).isEmpty();
    }
    // A tampered file on disk is not used either.
    Files.write(a.path(ref(wanted)), "tampered".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> new Artifacts(state, (d, f, m) -> {}).ensure(ref(wanted)))
        .isInstanceOf(java.io.IOException.class);
    assertThat(a.path(ref(wanted))).doesNotExist();
  }

  @Test
  void malformedReferencesAreRefusedBeforeAnyDownload() {
    Artifacts a =
        new Artifacts(
            state,
            (d, f, m) -> {
              throw new AssertionError("no download for a bad reference");
            });
    assertThatThrownBy(() -> a.ensure(new ArtifactRef("md5:abc", 1)))
        .hasMessageContaining("no valid K3s artifact");
    assertThatThrownBy(() -> a.ensure(new ArtifactRef("sha256:" + "0".repeat(64), 1L << 40)))
        .hasMessageContaining("at most");
  }

  @Test
  void onlyTheWantedArtifactsAreKept() throws Exception {
    byte[] one = "one".getBytes(StandardCharsets.UTF_8);
    byte[] two = "two".getBytes(StandardCharsets.UTF_8);
    String first = ref(one).digest();
    Artifacts a =
        new Artifacts(
            state, (digest, file, max) -> Files.write(file, digest.equals(first) ? one : two));
    Path p1 = a.ensure(ref(one));
    Path p2 = a.ensure(ref(two));
    Files.writeString(a.dir().resolve("0".repeat(64) + ".download.part"), "partial");
    a.keepOnly(Set.of(ref(two).digest()));
    assertThat(p1).doesNotExist();
    assertThat(p2).exists();
    try (var files = Files.list(a.dir())) {
      assertThat(files).containsExactly(p2);
    }
  }
}
