package io.edgefleet.agent.artifacts;

import io.edgefleet.protocol.ArtifactChunks;
import io.edgefleet.protocol.ArtifactRef;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Optional;

/**
 * Fetches one blob into the {@link BlobCache}: its chunk list from the source (or the one an
 * earlier attempt kept), then {@code Range} requests from the first byte not yet here, each chunk
 * verified as it completes, the whole digest at the end. Downloads stop at the end of a download
 * window and never ask for more than the day's budget leaves; what arrived is kept for the next
 * attempt (in this run up to the last byte, across a restart up to the last verified chunk). Not
 * thread-safe: one worker.
 */
final class Downloader {

  /** What an attempt came to. */
  sealed interface Outcome {
    /** The blob is in the cache, verified. */
    record Fetched(long bytes) implements Outcome {}

    /** Not allowed to go on now (window, budget, disk); nothing is wrong. */
    record Waiting(String reason) implements Outcome {}

    /**
     * The attempt failed: the source cannot be reached, refused, or sent bytes that did not match
     * ({@code mismatch}: those bytes were dropped).
     */
    record Failed(String message, boolean mismatch) implements Outcome {}
  }

  /** What the downloader tells as it goes, on the threads the bytes arrive on. */
  interface Listener {
    /** More bytes of {@code digest} were verified. */
    void progress(String digest, long size, long verified);
  }

  /** A transfer stopped because a download window ended. */
  private static final class WindowClosed extends IOException {
    WindowClosed(String message) {
      super(message);
    }
  }

  private final BlobCache cache;
  private final ArtifactSource source;
  private final ByteBudget budget;
  private final Clock clock;
  private final Listener listener;
  private volatile PartialBlob open;
  private long received;

  Downloader(
      BlobCache cache, ArtifactSource source, ByteBudget budget, Clock clock, Listener listener) {
    this.cache = cache;
    this.source = source;
    this.budget = budget;
    this.clock = clock;
    this.listener = listener;
  }

  /** Bytes received from the source by this downloader (refetched ones included). */
  long received() {
    return received;
  }

  /** Why downloads may not run now under {@code windows} and a budget of {@code perDay}. */
  Optional<String> gate(DownloadWindows windows, long perDay) {
    Instant now = clock.instant();
    if (!windows.open(now)) {
      return Optional.of(
          "outside the download windows ("
              + windows
              + ")"
              + windows.opens(now).map(t -> "; the next opens at " + t).orElse(""));
    }
    ZoneId zone = windows.zone();
    if (budget.left(perDay, zone) == 0) {
      return Optional.of(
          "the day's download budget of "
              + perDay
              + " bytes is spent; downloads go on after midnight ("
              + zone
              + ")");
    }
    return Optional.empty();
  }

  /** Fetches {@code ref} as far as the windows, the budget and the link allow. */
  Outcome fetch(ArtifactRef ref, DownloadWindows windows, long perDay) {
    String digest = ref.digest();
    ZoneId zone = windows.zone();
    try {
      Optional<String> closed = gate(windows, perDay);
      if (closed.isPresent()) {
        return new Outcome.Waiting(closed.get());
      }
      if (open == null || !open.chunks().digest().equals(digest)) {
        closeOpen();
        ArtifactChunks chunks = cache.keptChunks(digest).orElse(null);
        if (chunks == null) {
          chunks = source.chunks(digest);
        }
        if (!chunks.digest().equals(digest) || chunks.size() != ref.size()) {
          return new Outcome.Failed(
              source.name()
                  + " describes "
                  + digest
                  + " as "
                  + chunks.size()
                  + " bytes of "
                  + chunks.digest()
                  + ", the desired state as "
                  + ref.size()
                  + " bytes; it is not fetched",
              false);
        }
        Optional<String> full = cache.room(chunks.size() - cache.verified(digest));
        if (full.isPresent()) {
          return new Outcome.Waiting(full.get());
        }
        open = cache.partial(chunks);
      } else {
        Optional<String> full = cache.room(ref.size() - open.position());
        if (full.isPresent()) {
          return new Outcome.Waiting(full.get());
        }
      }
      PartialBlob p = open;
      while (!p.complete()) {
        closed = gate(windows, perDay);
        if (closed.isPresent()) {
          return new Outcome.Waiting(closed.get());
        }
        long left = budget.left(perDay, zone);
        long from = p.position();
        long end = left >= ref.size() - from ? ref.size() : from + left;
        Instant closes = windows.closes(clock.instant()).orElse(null);
        try {
          source.range(
              digest,
              from,
              end,
              bytes -> {
                if (closes != null && !clock.instant().isBefore(closes)) {
                  throw new WindowClosed("the download window " + windows + " closed");
                }
                int n = bytes.remaining();
                received += n;
                budget.spend(n, zone);
                long before = p.verified();
                p.take(bytes);
                if (p.verified() != before) {
                  budget.save();
                  listener.progress(digest, ref.size(), p.verified());
                }
              });
        } catch (WindowClosed e) {
          return new Outcome.Waiting(gate(windows, perDay).orElse(e.getMessage()));
        } catch (PartialBlob.ChunkMismatch e) {
          return new Outcome.Failed(e.getMessage(), true);
        } finally {
          budget.save();
        }
        if (p.position() < end) {
          return new Outcome.Failed(
              source.name() + " ended the transfer of " + digest + " at byte " + p.position(),
              false);
        }
      }
      open = null;
      try {
        cache.commit(p);
      } catch (BlobCache.BlobMismatch e) {
        return new Outcome.Failed(e.getMessage(), true);
      }
      listener.progress(digest, ref.size(), ref.size());
      return new Outcome.Fetched(ref.size());
    } catch (IOException e) {
      return new Outcome.Failed(
          "cannot fetch "
              + digest
              + " from "
              + source.name()
              + ": "
              + (e.getMessage() == null ? e.toString() : e.getMessage()),
          false);
    }
  }

  /** Bytes of {@code digest} verified in the download under way, if it is that one. */
  Optional<Long> verified(String digest) {
    PartialBlob p = open;
    return p != null && p.chunks().digest().equals(digest)
        ? Optional.of(p.verified())
        : Optional.empty();
  }

  /** Closes the download under way unless it is of one of {@code digests}. */
  void keepOnly(java.util.Set<String> digests) {
    PartialBlob p = open;
    if (p != null && !digests.contains(p.chunks().digest())) {
      closeOpen();
    }
  }

  /** Closes the download under way (its verified part stays on disk). */
  void closeOpen() {
    if (open != null) {
      try {
        open.close();
      } catch (IOException e) {
        // The verified part was synced when it was recorded.
      }
      open = null;
    }
  }
}
