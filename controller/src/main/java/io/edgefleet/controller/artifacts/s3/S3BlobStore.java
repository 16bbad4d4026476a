package io.edgefleet.controller.artifacts.s3;

import io.edgefleet.controller.artifacts.BlobStaging;
import io.edgefleet.controller.artifacts.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Blobs in an S3-compatible bucket: {@code <prefix>sha256/<hex>}, side files as {@code
 * <prefix>sha256/<hex>.<name>}. Uploads are staged in a local directory (bounded, digest computed)
 * and put once accepted, signed with the blob's digest as the payload hash, so the service checks
 * the bytes it keeps. Several controller replicas can share one bucket.
 *
 * <p>Blobs are immutable, so a blob seen in the bucket is remembered for a minute: a device
 * fetching a large blob in 1 MiB ranges costs one ranged GET per range, not a HEAD as well. A blob
 * deleted through this store is forgotten at once. Thread-safe.
 */
public final class S3BlobStore implements BlobStore {
  private static final Duration REMEMBER = Duration.ofMinutes(1);
  private static final int MAX_REMEMBERED = 10_000;
  private static final int MAX_SIDE = 64 * 1024 * 1024;

  private final S3Options options;
  private final S3Client client;
  private final BlobStaging staging;
  private final Clock clock;
  private final Map<String, Seen> seen = new ConcurrentHashMap<>();

  private record Seen(long size, long at) {}

  /**
   * @param staging where uploads are streamed before they are put in the bucket
   */
  public S3BlobStore(S3Options options, Path staging, Clock clock) {
    this.options = options;
    this.client = new S3Client(options, clock);
    this.staging = new BlobStaging(staging);
    this.clock = clock;
  }

  /**
   * Checks that the bucket exists and the credentials may use it.
   *
   * @throws S3Exception with the service's answer when it refuses
   * @throws IOException when the service cannot be reached
   */
  public void check() throws IOException {
    client.checkBucket();
  }

  @Override
  public Written write(InputStream in, long max) throws IOException {
    return staging.write(in, max);
  }

  @Override
  public void commit(Written written) throws IOException {
    try {
      if (size(written.digest()).isEmpty()) {
        client.put(
            key(written.digest()), written.temp(), BlobStore.hex(written.digest()), written.size());
        remember(written.digest(), written.size());
      }
    } finally {
      Files.deleteIfExists(written.temp());
    }
  }

  @Override
  public void discard(Written written) {
    staging.discard(written);
  }

  @Override
  public OptionalLong size(String digest) throws IOException {
    String hex = BlobStore.hex(digest);
    Seen s = seen.get(hex);
    long now = clock.millis();
    if (s != null && now - s.at() < REMEMBER.toMillis()) {
      return OptionalLong.of(s.size());
    }
    OptionalLong size = client.head(key(digest));
    if (size.isPresent()) {
      remember(digest, size.getAsLong());
    } else {
      seen.remove(hex);
    }
    return size;
  }

  @Override
  public InputStream open(String digest, long from, long count) throws IOException {
    return client.get(key(digest), from, count);
  }

  @Override
  public void delete(String digest) throws IOException {
    seen.remove(BlobStore.hex(digest));
    for (String side : SIDE_FILES) {
      client.delete(key(digest) + "." + side);
    }
    client.delete(key(digest));
  }

  @Override
  public Optional<byte[]> side(String digest, String name) throws IOException {
    return client.getSmall(sideKey(digest, name), MAX_SIDE);
  }

  @Override
  public void putSide(String digest, String name, byte[] content) throws IOException {
    client.put(sideKey(digest, name), content);
  }

  @Override
  public String location() {
    return options.location();
  }

  private void remember(String digest, long size) {
    if (seen.size() >= MAX_REMEMBERED) {
      seen.clear();
    }
    seen.put(BlobStore.hex(digest), new Seen(size, clock.millis()));
  }

  private static String key(String digest) {
    return "sha256/" + BlobStore.hex(digest);
  }

  private static String sideKey(String digest, String name) {
    if (!SIDE_FILES.contains(name)) {
      throw new IllegalArgumentException("not a side file name: " + name);
    }
    return key(digest) + "." + name;
  }
}
