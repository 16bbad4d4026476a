package io.edgefleet.e2e.artifacts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.artifacts.BlobStore;
import io.edgefleet.controller.artifacts.ChunkIndex;
import io.edgefleet.controller.artifacts.DirectoryBlobStore;
import io.edgefleet.controller.artifacts.s3.S3BlobStore;
import io.edgefleet.controller.artifacts.s3.S3Exception;
import io.edgefleet.controller.artifacts.s3.S3Options;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.testkit.TestController;
import io.edgefleet.testkit.s3.S3Server;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The artifact stores behave the same: a directory, and an S3-compatible bucket on a real S3 server
 * (S3Proxy, checking every request's signature) over plain http and over TLS with a private CA.
 * Then what only a bucket can get wrong: a wrong key, a missing bucket, an untrusted certificate, a
 * service that does not answer.
 */
class BlobStoresIT {
  @TempDir static Path shared;
  static S3Server plain;
  static S3Server tls;
  static final AtomicInteger PREFIXES = new AtomicInteger();

  @TempDir Path dir;

  @BeforeAll
  static void servers() {
    plain = S3Server.start(shared.resolve("plain"), "blobs", false);
    tls = S3Server.start(shared.resolve("tls"), "blobs", true);
  }

  @AfterAll
  static void stopServers() {
    if (plain != null) {
      plain.close();
    }
    if (tls != null) {
      tls.close();
    }
  }

  static Stream<String> stores() {
    return Stream.of("directory", "s3", "s3-tls");
  }

  BlobStore store(String kind) {
    Path staging = dir.resolve("staging-" + kind);
    String prefix = "run" + PREFIXES.incrementAndGet() + "/";
    return switch (kind) {
      case "directory" -> new DirectoryBlobStore(dir.resolve("blobs"));
      case "s3" -> new S3BlobStore(plain.options(prefix), staging, Clock.systemUTC());
      case "s3-tls" -> new S3BlobStore(tls.options(prefix), staging, Clock.systemUTC());
      default -> throw new IllegalArgumentException(kind);
    };
  }

  @ParameterizedTest
  @MethodSource("stores")
  void aCommittedBlobIsReadWholeAndInRanges(String kind) throws Exception {
    BlobStore store = store(kind);
    byte[] bytes = bytes(3 * 1024 * 1024 + 17);
    String digest = put(store, bytes);

    assertThat(digest).isEqualTo(digest(bytes));
    assertThat(store.size(digest)).hasValue(bytes.length);
    assertThat(store.exists(digest)).isTrue();
    assertThat(read(store.open(digest, 0, bytes.length))).isEqualTo(bytes);
    assertThat(read(store.open(digest, 1_000_000, 5)))
        .isEqualTo(Arrays.copyOfRange(bytes, 1_000_000, 1_000_005));
    assertThat(read(store.open(digest, bytes.length - 1, 1)))
        .containsExactly(bytes[bytes.length - 1]);
    assertThat(read(store.open(digest, 5, 0))).isEmpty();
  }

  @ParameterizedTest
  @MethodSource("stores")
  void theSameBytesTwiceAreKeptOnceAndNoUploadIsLeftBehind(String kind) throws Exception {
    BlobStore store = store(kind);
    byte[] bytes = bytes(10_000);
    BlobStore.Written first = store.write(new ByteArrayInputStream(bytes), 1 << 20);
    BlobStore.Written second = store.write(new ByteArrayInputStream(bytes), 1 << 20);
    store.commit(first);
    store.commit(second);

    assertThat(first.temp()).doesNotExist();
    assertThat(second.temp()).doesNotExist();
    assertThat(read(store.open(first.digest(), 0, bytes.length))).isEqualTo(bytes);
  }

  @ParameterizedTest
  @MethodSource("stores")
  void aTooLargeUploadIsRefusedAndLeavesNothing(String kind) throws Exception {
    BlobStore store = store(kind);
    byte[] bytes = bytes(5000);
    assertThatThrownBy(() -> store.write(new ByteArrayInputStream(bytes), 4999))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.ARTIFACT_TOO_LARGE));
    assertThat(store.exists(digest(bytes))).isFalse();
    BlobStore.Written refused = store.write(new ByteArrayInputStream(bytes), 5000);
    store.discard(refused);
    assertThat(refused.temp()).doesNotExist();
    assertThat(store.exists(refused.digest())).isFalse();
  }

  @ParameterizedTest
  @MethodSource("stores")
  void aMissingBlobHasNoSizeAndCannotBeOpened(String kind) throws Exception {
    BlobStore store = store(kind);
    String missing = digest(new byte[] {1, 2, 3});
    assertThat(store.size(missing)).isEmpty();
    assertThat(store.exists(missing)).isFalse();
    assertThatThrownBy(() -> read(store.open(missing, 0, 3)))
        .isInstanceOf(NoSuchFileException.class);
    assertThat(store.side(missing, "chunks")).isEmpty();
    store.delete(missing);
  }

  @ParameterizedTest
  @MethodSource("stores")
  void theChunkIndexIsKeptAsASideFileAndGoesWithItsBlob(String kind) throws Exception {
    BlobStore store = store(kind);
    byte[] bytes = bytes(9000);
    String digest = put(store, bytes);
    ChunkIndex index = new ChunkIndex(4096);

    ArtifactChunks chunks = index.chunks(store, digest, bytes.length);
    assertThat(chunks.chunks())
        .containsExactly(
            digest(Arrays.copyOfRange(bytes, 0, 4096)),
            digest(Arrays.copyOfRange(bytes, 4096, 8192)),
            digest(Arrays.copyOfRange(bytes, 8192, 9000)));
    assertThat(store.side(digest, "chunks")).isPresent();
    assertThat(index.chunks(store, digest, bytes.length)).isEqualTo(chunks);
    assertThatThrownBy(() -> store.putSide(digest, "other", new byte[1]))
        .isInstanceOf(IllegalArgumentException.class);

    store.delete(digest);
    assertThat(store.exists(digest)).isFalse();
    assertThat(store.side(digest, "chunks")).isEmpty();
  }

  @Test
  void blobsLiveUnderThePrefixWithTheirDigestAsTheKey() throws Exception {
    BlobStore store =
        new S3BlobStore(plain.options("edge/artifacts"), dir.resolve("up"), Clock.systemUTC());
    byte[] bytes = bytes(100);
    String digest = put(store, bytes);
    new ChunkIndex(4096).chunks(store, digest, bytes.length);
    String hex = digest.substring("sha256:".length());
    assertThat(plain.keys())
        .contains("edge/artifacts/sha256/" + hex, "edge/artifacts/sha256/" + hex + ".chunks");
    assertThat(store.location()).isEqualTo(plain.endpoint() + "/blobs/edge/artifacts/");
  }

  @Test
  void aWrongSecretIsRefusedWithTheServicesAnswerAndWhatToCheck() {
    S3Options good = plain.options("");
    S3BlobStore store =
        new S3BlobStore(
            new S3Options(
                good.endpoint(),
                good.bucket(),
                "",
                null,
                new S3Options.Credentials(S3Server.ACCESS_KEY, "not-the-secret", Optional.empty()),
                Optional.empty()),
            dir.resolve("up"),
            Clock.systemUTC());
    assertThatThrownBy(store::check)
        .isInstanceOfSatisfying(
            S3Exception.class,
            e -> {
              assertThat(e.status()).isEqualTo(403);
              assertThat(e.getMessage())
                  .contains("403")
                  .contains("EDGEFLEET_S3_SECRET_ACCESS_KEY")
                  .doesNotContain("not-the-secret");
            });
    // A request with a body is answered with the service's reason: it checked the signature.
    assertThatThrownBy(() -> store.putSide(digest(bytes(10)), "chunks", new byte[] {1}))
        .isInstanceOfSatisfying(
            S3Exception.class, e -> assertThat(e.code()).isEqualTo("SignatureDoesNotMatch"));
    assertThatThrownBy(() -> put(store, bytes(10)))
        .isInstanceOfSatisfying(S3Exception.class, e -> assertThat(e.status()).isEqualTo(403));
  }

  @Test
  void aControllerWhoseBucketRefusesItDoesNotStartAndSaysWhy() {
    S3Options good = plain.options("");
    S3Options wrongKey =
        new S3Options(
            good.endpoint(),
            good.bucket(),
            "",
            null,
            new S3Options.Credentials("someone-else", "whatever", Optional.empty()),
            Optional.empty());
    assertThatThrownBy(
            () ->
                TestController.start(
                        TestController.config(dir.resolve("controller"))
                            .withS3(Optional.of(wrongKey)))
                    .close())
        .hasStackTraceContaining("403")
        .hasStackTraceContaining("EDGEFLEET_S3_ACCESS_KEY_ID");
  }

  @Test
  void aMissingBucketSaysSo() {
    S3Options good = plain.options("");
    S3BlobStore store =
        new S3BlobStore(
            new S3Options(
                good.endpoint(), "no-such-bucket", "", null, good.credentials(), Optional.empty()),
            dir.resolve("up"),
            Clock.systemUTC());
    assertThatThrownBy(store::check)
        .isInstanceOfSatisfying(
            S3Exception.class,
            e -> {
              assertThat(e.status()).isEqualTo(404);
              assertThat(e.getMessage()).contains("--s3-bucket");
            });
  }

  @Test
  void aServerCertificateFromAnUntrustedCaIsRefused() {
    S3Options good = tls.options("");
    S3BlobStore store =
        new S3BlobStore(
            new S3Options(
                good.endpoint(), good.bucket(), "", null, good.credentials(), Optional.empty()),
            dir.resolve("up"),
            Clock.systemUTC());
    assertThatThrownBy(store::check)
        .isInstanceOf(IOException.class)
        .isNotInstanceOf(S3Exception.class)
        .hasMessageContaining("cannot reach the S3 service at " + good.endpoint());
  }

  @Test
  void aServiceThatDoesNotListenIsAnErrorThatSaysWhere() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    S3Options good = plain.options("");
    URI nowhere = URI.create("http://127.0.0.1:" + port);
    S3BlobStore store =
        new S3BlobStore(
            new S3Options(nowhere, good.bucket(), "", null, good.credentials(), Optional.empty()),
            dir.resolve("up"),
            Clock.systemUTC());
    assertThatThrownBy(() -> store.size(digest(new byte[1])))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("cannot reach the S3 service at " + nowhere);
  }

  private static String put(BlobStore store, byte[] bytes) throws IOException {
    BlobStore.Written w = store.write(new ByteArrayInputStream(bytes), 1L << 30);
    store.commit(w);
    return w.digest();
  }

  private static byte[] read(InputStream in) throws IOException {
    try (in) {
      return in.readAllBytes();
    }
  }

  static byte[] bytes(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + i / 251);
    }
    return b;
  }

  static String digest(byte[] b) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static List<Path> files(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.toList();
    }
  }
}
