package io.edgefleet.controller.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.ErrorCode;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArtifactsTest {
  @TempDir Path tmp;
  Database db;
  Artifacts artifacts;
  BlobStore blobs;
  final Set<String> used = ConcurrentHashMap.newKeySet();

  @BeforeEach
  void setUp() throws Exception {
    Path data = Files.createDirectories(tmp.resolve("data"));
    db = Database.open(Database.sqliteUrl(data), null, null);
    Clock clock = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);
    blobs = new DirectoryBlobStore(data.resolve("artifacts"));
    artifacts =
        new Artifacts(
            db.jdbi(),
            clock,
            new AuditLog(db.jdbi(), clock),
            blobs,
            1000,
            d -> used.contains(d) ? Optional.of("cluster shop uses it") : Optional.empty());
  }

  @AfterEach
  void tearDown() {
    db.close();
  }

  static String digest(byte[] b) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  static InputStream in(byte[] b) {
    return new ByteArrayInputStream(b);
  }

  @Test
  void aPushIsStoredUnderItsDigestAndFoundByVersionAndArch() throws Exception {
    byte[] bytes = "#!/bin/sh\necho k3s\n".getBytes();
    var a =
        artifacts.push(
            new Artifacts.Push("k3s", "v1.20.2+k3s1", null, "k3s", digest(bytes)), in(bytes), "op");
    assertThat(a.digest()).isEqualTo(digest(bytes));
    assertThat(a.size()).isEqualTo(bytes.length);
    assertThat(a.arch()).isEqualTo("amd64");
    try (InputStream stored = artifacts.open(a.digest())) {
      assertThat(stored.readAllBytes()).isEqualTo(bytes);
    }
    try (InputStream range = artifacts.open(a.digest(), 3, 4)) {
      assertThat(range.readAllBytes()).isEqualTo(Arrays.copyOfRange(bytes, 3, 7));
    }
    assertThat(new K3sBinaries(artifacts).k3s("v1.20.2+k3s1", "amd64"))
        .contains(new ArtifactRef(a.digest(), bytes.length));
    assertThat(new K3sBinaries(artifacts).k3s("v1.20.2+k3s1", "arm64")).isEmpty();
    assertThat(new K3sBinaries(artifacts).k3s("v1.21.0+k3s1", "amd64")).isEmpty();
    // The same push again answers the stored artifact.
    assertThat(
            artifacts.push(
                new Artifacts.Push("k3s", "v1.20.2+k3s1", "amd64", null, null), in(bytes), "op"))
        .isEqualTo(a);
    assertThat(artifacts.list()).hasSize(1);
    // Nothing is left in the temporary directory.
    try (var left = Files.list(tmp.resolve("data/artifacts/tmp"))) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void tooLargeWrongDigestAndBadInputAreRefusedAndLeaveNothing() throws Exception {
    assertThatThrownBy(
            () ->
                artifacts.push(
                    new Artifacts.Push("k3s", "v1", null, null, null), in(new byte[1001]), "op"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.ARTIFACT_TOO_LARGE));
    byte[] bytes = "abc".getBytes();
    String wrong = digest("abd".getBytes());
    String right = digest(bytes);
    assertThatThrownBy(
            () ->
                artifacts.push(new Artifacts.Push("k3s", "v1", null, null, wrong), in(bytes), "op"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.ARTIFACT_DIGEST_MISMATCH);
              assertThat(e.getMessage()).contains(right);
            });
    for (var bad :
        new Artifacts.Push[] {
          new Artifacts.Push(null, "v1", null, null, null),
          new Artifacts.Push("K3S", "v1", null, null, null),
          new Artifacts.Push("k3s", "", null, null, null),
          new Artifacts.Push("k3s", "v1/../x", null, null, null),
          new Artifacts.Push("k3s", "v1", "amd 64", null, null),
          new Artifacts.Push("k3s", "v1", null, "../etc/passwd", null),
          new Artifacts.Push("k3s", "v1", null, null, "sha256:xyz")
        }) {
      assertThatThrownBy(() -> artifacts.push(bad, in(bytes), "op"))
          .isInstanceOfSatisfying(
              ControllerException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED));
    }
    assertThat(artifacts.list()).isEmpty();
    try (var left = Files.list(tmp.resolve("data/artifacts/tmp"))) {
      assertThat(left).isEmpty();
    }
    try (var left = Files.list(tmp.resolve("data/artifacts/sha256"))) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void otherBytesForAStoredVersionConflict() throws Exception {
    artifacts.push(new Artifacts.Push("k3s", "v1", null, null, null), in("one".getBytes()), "op");
    assertThatThrownBy(
            () ->
                artifacts.push(
                    new Artifacts.Push("k3s", "v1", null, null, null), in("two".getBytes()), "op"))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT));
    assertThat(
            artifacts
                .push(
                    new Artifacts.Push("k3s", "v1", "arm64", null, null),
                    in("two".getBytes()),
                    "op")
                .arch())
        .isEqualTo("arm64");
  }

  @Test
  void aDeleteIsRefusedWhileInUseAndRemovesTheBytesOtherwise() throws Exception {
    byte[] bytes = "bin".getBytes();
    var a = artifacts.push(new Artifacts.Push("k3s", "v1", null, null, null), in(bytes), "op");
    used.add(a.digest());
    assertThatThrownBy(() -> artifacts.delete(a.digest(), "op"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT);
              assertThat(e.getMessage()).contains("cluster shop uses it");
            });
    used.clear();
    assertThat(blobs.exists(a.digest())).isTrue();
    artifacts.delete(a.digest(), "op");
    assertThat(blobs.exists(a.digest())).isFalse();
    assertThat(artifacts.list()).isEmpty();
    assertThatThrownBy(() -> artifacts.stored(a.digest()))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
    assertThatThrownBy(() -> artifacts.delete(a.digest(), "op"))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
  }

  @Test
  void imagesAreNamedByRepositoryVersionedByManifestAndStoredPerRepository() throws Exception {
    String manifest = "sha256:" + "c".repeat(64);
    byte[] a = "archive of registry.example.com:5000/team/app".getBytes();
    byte[] b = "archive of mirror.example.com/team/app".getBytes();
    var first =
        artifacts.push(
            new Artifacts.Push(
                Artifacts.IMAGE, manifest, "arm64", "registry.example.com:5000/team/app", null),
            in(a),
            "op");
    // The same manifest from another repository is another artifact.
    var second =
        artifacts.push(
            new Artifacts.Push(
                Artifacts.IMAGE, manifest, "arm64", "mirror.example.com/team/app", null),
            in(b),
            "op");
    assertThat(second.digest()).isNotEqualTo(first.digest());
    assertThat(
            artifacts.find(
                Artifacts.IMAGE, "registry.example.com:5000/team/app", manifest, "arm64"))
        .contains(first);
    assertThat(artifacts.find(Artifacts.IMAGE, "mirror.example.com/team/app", manifest, "arm64"))
        .contains(second);
    // Other bytes for the same repository, manifest and architecture conflict.
    assertThatThrownBy(
            () ->
                artifacts.push(
                    new Artifacts.Push(
                        Artifacts.IMAGE,
                        manifest,
                        "arm64",
                        "registry.example.com:5000/team/app",
                        null),
                    in("other".getBytes()),
                    "op"))
        .isInstanceOfSatisfying(
            ControllerException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT));
    // An image's version is a manifest digest and its name a repository.
    for (var bad :
        new Artifacts.Push[] {
          new Artifacts.Push(Artifacts.IMAGE, "v1.0", "amd64", "r.example/app", null),
          new Artifacts.Push(Artifacts.IMAGE, manifest, "amd64", "app", null),
          new Artifacts.Push(Artifacts.IMAGE, manifest, "amd64", "r.example/../app", null),
          new Artifacts.Push(Artifacts.IMAGE, manifest, "amd64", null, null)
        }) {
      assertThatThrownBy(() -> artifacts.push(bad, in("x".getBytes()), "op"))
          .isInstanceOfSatisfying(
              ControllerException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED));
    }
    // Other kinds keep their file names: no directories.
    assertThatThrownBy(
            () ->
                artifacts.push(
                    new Artifacts.Push("k3s", "v1.20.2+k3s1", null, "r.example/k3s", null),
                    in("y".getBytes()),
                    "op"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED));
    assertThat(artifacts.list()).hasSize(2);
  }
}
