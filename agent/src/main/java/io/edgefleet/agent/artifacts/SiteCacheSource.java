package io.edgefleet.agent.artifacts;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.IdentityStore;
import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.DesiredState;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Blobs from the site's cache on the LAN first, from the controller when there is none, it cannot
 * be reached, fails, or makes no progress fetching what it does not hold: what arrived from the
 * cache is kept and the rest of the range comes from the controller in the same call.
 *
 * <p>Chunk lists always come from the controller (the cache's only when the controller cannot be
 * reached): every chunk the cache sends is checked against the controller's digest, so a cache that
 * lies cannot plant a blob. A blob of which the cache sent a chunk that did not match is fetched
 * from the controller from then on; a cache that could not be reached is left alone for {@link
 * #PAUSE}. Counts the bytes each source delivered. Thread-safe.
 */
public final class SiteCacheSource implements ArtifactSource {

  /** How long a cache that failed is not asked again. */
  static final Duration PAUSE = Duration.ofSeconds(30);

  /** Busy answers in a row without progress after which the controller is asked instead. */
  static final int MAX_IDLE_BUSY = 3;

  private static final int MAX_AVOIDED = 1024;

  /**
   * Counters since start.
   *
   * @param fromCache blob bytes the site cache delivered
   * @param fromController blob bytes the controller delivered
   * @param fallbacks ranges (or chunk lists) the cache failed and the controller served
   * @param mismatches ranges in which the cache sent a chunk that did not match its digest
   */
  public record Stats(long fromCache, long fromController, long fallbacks, long mismatches) {}

  private final ArtifactSource controller;
  private final Clock clock;
  private final PrintStream out;
  private final Supplier<Optional<IdentityStore.Identity>> identity;
  private final Set<String> avoided = ConcurrentHashMap.newKeySet();
  private final AtomicLong fromCache = new AtomicLong();
  private final AtomicLong fromController = new AtomicLong();
  private final AtomicLong fallbacks = new AtomicLong();
  private final AtomicLong mismatches = new AtomicLong();
  private volatile ArtifactSource cache;
  private volatile DesiredState.SiteCache target;
  private volatile Instant pausedUntil = Instant.MIN;

  SiteCacheSource(
      ArtifactSource controller,
      Clock clock,
      PrintStream out,
      Supplier<Optional<IdentityStore.Identity>> identity) {
    this.controller = controller;
    this.clock = clock;
    this.out = out;
    this.identity = identity;
  }

  /** The source for {@code agent}: its controller, and the site cache its desired state names. */
  public static SiteCacheSource forAgent(Agent agent, Clock clock, PrintStream out) {
    return new SiteCacheSource(
        ArtifactSource.controller(agent.controllerAccess()), clock, out, agent::identity);
  }

  /**
   * Fetches from the cache {@code site} names when it is another device's and has a URL; from the
   * controller alone otherwise (null, this device's own, no URL yet).
   */
  public void use(DesiredState.SiteCache site) {
    boolean neighbour = site != null && !site.serve() && site.url() != null;
    if (Objects.equals(target, neighbour ? site : null)) {
      return;
    }
    if (!neighbour) {
      target = null;
      use(Optional.empty());
      return;
    }
    ArtifactSource next;
    try {
      SiteCacheClient client =
          new SiteCacheClient(
              URI.create(site.url()),
              SiteTls.client(identity, site.deviceId()),
              Duration.ofSeconds(3),
              SiteCacheServer.Limits.defaults().pullWait().plusSeconds(10));
      next = lanSource(site.deviceId(), client);
    } catch (IllegalArgumentException e) {
      out.println("artifacts: the site cache's URL cannot be used (" + e.getMessage() + ")");
      next = null;
    }
    target = site;
    use(Optional.ofNullable(next));
    out.println(
        next == null
            ? "artifacts: fetching from the controller"
            : "artifacts: fetching from the site cache "
                + site.deviceId()
                + " at "
                + site.url()
                + " first, the controller when it fails");
  }

  /** Uses {@code next} as the cache (empty: none). */
  void use(Optional<ArtifactSource> next) {
    cache = next.orElse(null);
    pausedUntil = Instant.MIN;
    avoided.clear();
  }

  private static ArtifactSource lanSource(String deviceId, SiteCacheClient client) {
    return new ArtifactSource() {
      @Override
      public String name() {
        return "the site cache " + deviceId;
      }

      @Override
      public ArtifactChunks chunks(String digest) throws IOException {
        return client.chunks(digest);
      }

      @Override
      public long range(String digest, long from, long end, Receiver receiver) throws IOException {
        return client.range(digest, from, end, receiver);
      }
    };
  }

  public Stats stats() {
    return new Stats(fromCache.get(), fromController.get(), fallbacks.get(), mismatches.get());
  }

  @Override
  public String name() {
    ArtifactSource c = cache;
    return c == null ? controller.name() : c.name() + " or " + controller.name();
  }

  @Override
  public ArtifactChunks chunks(String digest) throws IOException {
    try {
      return controller.chunks(digest);
    } catch (IOException e) {
      ArtifactSource c = usable(digest);
      if (c == null) {
        throw e;
      }
      // The whole digest is still checked at the end: a wrong list costs a download, no more.
      ArtifactChunks list = c.chunks(digest);
      fallbacks.incrementAndGet();
      return list;
    }
  }

  @Override
  public long range(String digest, long from, long end, Receiver receiver) throws IOException {
    ArtifactSource c = usable(digest);
    if (c == null) {
      return fromController(digest, from, end, receiver);
    }
    long at = from;
    long lastVerified = -1;
    int idle = 0;
    String why;
    while (true) {
      Counting counting = new Counting(receiver);
      try {
        c.range(digest, at, end, counting);
        fromCache.addAndGet(counting.bytes);
        at += counting.bytes;
        if (at >= end) {
          return at - from;
        }
        why = "it ended the transfer at byte " + at;
        break;
      } catch (IOException e) {
        fromCache.addAndGet(counting.bytes);
        at += counting.bytes;
        if (counting.failure == e) {
          if (e instanceof PartialBlob.ChunkMismatch) {
            mismatches.incrementAndGet();
            avoid(digest);
            out.println(
                "artifacts: "
                    + c.name()
                    + " sent a chunk of "
                    + digest
                    + " that does not match its digest; it is fetched from "
                    + controller.name()
                    + " from now on");
          }
          throw e;
        }
        if (e instanceof SiteCacheClient.Busy busy) {
          idle = busy.verified() > lastVerified ? 0 : idle + 1;
          lastVerified = Math.max(lastVerified, busy.verified());
          if (idle < MAX_IDLE_BUSY) {
            continue;
          }
          why = "it makes no progress fetching it (" + e.getMessage() + ")";
        } else {
          why = e.getMessage() == null ? e.toString() : e.getMessage();
          if (!(e instanceof SiteCacheClient.Refused)) {
            // Unreachable or cut: not asked again for a while.
            pausedUntil = clock.instant().plus(PAUSE);
          }
        }
        break;
      }
    }
    fallbacks.incrementAndGet();
    out.println(
        "artifacts: "
            + c.name()
            + " failed for "
            + digest
            + " ("
            + why
            + "); bytes "
            + at
            + " on come from "
            + controller.name());
    return (at - from) + fromController(digest, at, end, receiver);
  }

  private long fromController(String digest, long from, long end, Receiver receiver)
      throws IOException {
    Counting counting = new Counting(receiver);
    try {
      return controller.range(digest, from, end, counting);
    } finally {
      fromController.addAndGet(counting.bytes);
    }
  }

  /** The cache, unless there is none, it is paused, or it sent a bad chunk of {@code digest}. */
  private ArtifactSource usable(String digest) {
    ArtifactSource c = cache;
    if (c == null || avoided.contains(digest) || clock.instant().isBefore(pausedUntil)) {
      return null;
    }
    return c;
  }

  private void avoid(String digest) {
    if (avoided.size() >= MAX_AVOIDED) {
      avoided.clear();
    }
    avoided.add(digest);
  }

  /** Counts what a source hands over and remembers an exception the receiver threw. */
  private static final class Counting implements Receiver {
    private final Receiver receiver;
    long bytes;
    IOException failure;

    Counting(Receiver receiver) {
      this.receiver = receiver;
    }

    @Override
    public void take(ByteBuffer b) throws IOException {
      int n = b.remaining();
      try {
        receiver.take(b);
      } catch (IOException e) {
        failure = e;
        throw e;
      } catch (RuntimeException e) {
        failure = new IOException(e);
        throw e;
      }
      bytes += n;
    }
  }
}
