package io.edgefleet.controller.audit;

import io.edgefleet.protocol.tls.Signatures;
import java.security.PublicKey;
import java.util.List;
import java.util.Optional;

/**
 * Walks the audit chain and finds the first entry that was edited, deleted or inserted, or a
 * checkpoint that does not hold (decision 0034). Reads in pages of {@link #PAGE} entries, so memory
 * stays bounded however long the log is. Thread-safe (stateless between calls).
 */
public final class AuditVerifier {
  static final int PAGE = 1000;

  private final AuditLog log;

  public AuditVerifier(AuditLog log) {
    this.log = log;
  }

  /** What went wrong first. */
  public enum Kind {
    EDITED,
    DELETED,
    INSERTED,
    CHECKPOINT_INVALID,
    CHECKPOINT_MISMATCH,
    TRUNCATED,
    HEAD_MISMATCH
  }

  /**
   * The first problem found.
   *
   * @param seq the sequence number where it is
   * @param id the entry's id, when there is an entry
   */
  public record Problem(Kind kind, long seq, String id, String message) {}

  /**
   * What a verification found.
   *
   * @param fromSeq the first sequence number checked
   * @param entries entries whose hash was checked
   * @param checkpoints checkpoints whose signature was checked
   * @param headSeq the chain head's sequence number
   * @param lastCheckpointSeq the newest checkpoint's sequence number, 0 without one: entries after
   *     it are only as safe as the head row
   */
  public record Result(
      boolean ok,
      long fromSeq,
      long entries,
      long checkpoints,
      long headSeq,
      long lastCheckpointSeq,
      Problem problem) {}

  /** Verifies the whole chain. */
  public Result verify() {
    return verify(1);
  }

  /**
   * Verifies the chain from {@code fromSeq} on. The entry before it is taken as it is: its stored
   * hash starts the walk.
   *
   * @throws IllegalArgumentException if {@code fromSeq} is below 1 or beyond the newest entry
   */
  public Result verify(long fromSeq) {
    if (fromSeq < 1) {
      throw new IllegalArgumentException("from must be a sequence number of at least 1");
    }
    // The newest checkpoint is read before the head: a checkpoint is made in the transaction that
    // moves the head to it (or later), so one read first is at or below any head read after it,
    // unless the head was moved back.
    long lastCheckpoint = log.latestCheckpoint().map(AuditLog.Checkpoint::seq).orElse(0L);
    AuditLog.Head head = log.head();
    if (fromSeq > head.seq() + 1) {
      throw new IllegalArgumentException(
          "from "
              + fromSeq
              + " is beyond the newest entry (seq "
              + head.seq()
              + "): give a sequence number from 1 to "
              + Math.max(1, head.seq()));
    }
    // Entries deleted by the retention are not asked for: the walk starts after them.
    long pruned = log.prunedThrough();
    long from = Math.max(fromSeq, pruned + 1);
    Walk w = new Walk(from, head, lastCheckpoint, pruned);
    Problem p = w.run();
    return new Result(p == null, from, w.entries, w.checkpoints, head.seq(), lastCheckpoint, p);
  }

  private final class Walk {
    final long fromSeq;
    final AuditLog.Head head;
    final long lastCheckpoint;
    final long pruned;
    long entries;
    long checkpoints;

    Walk(long fromSeq, AuditLog.Head head, long lastCheckpoint, long pruned) {
      this.fromSeq = fromSeq;
      this.head = head;
      this.lastCheckpoint = lastCheckpoint;
      this.pruned = pruned;
    }

    Problem run() {
      List<String> strays = log.unchained(1);
      if (!strays.isEmpty()) {
        return new Problem(
            Kind.INSERTED,
            0,
            strays.getFirst(),
            "entry "
                + strays.getFirst()
                + " was inserted: it has no sequence number, so it was not written by the"
                + " controller's audit log");
      }
      long prevSeq = fromSeq - 1;
      String prevHash = AuditChain.GENESIS;
      String prevId = null;
      if (prevSeq > 0 && prevSeq == pruned) {
        // The entries up to here were deleted after their retention: the signed checkpoint kept
        // at this seq vouches for the hash the next entry must follow.
        Optional<AuditLog.Checkpoint> anchor =
            log.checkpoints(pruned, pruned, 1).stream().findFirst();
        if (anchor.isEmpty()) {
          return new Problem(
              Kind.DELETED,
              pruned,
              null,
              "checkpoint "
                  + pruned
                  + ", which vouches for the entries after those deleted by the retention, is"
                  + " missing: it was deleted");
        }
        Problem p = signature(anchor.get());
        if (p != null) {
          return p;
        }
        prevHash = anchor.get().hash();
      } else if (prevSeq > 0) {
        Optional<AuditLog.ChainedEntry> before = log.chainedAt(prevSeq);
        if (before.isEmpty()) {
          return new Problem(
              Kind.DELETED,
              prevSeq,
              null,
              "entry " + prevSeq + " (the one before --from) is missing: it was deleted");
        }
        prevHash = before.get().hash();
        prevId = before.get().id();
      }
      AuditLog.ChainedEntry beyondHead = null;
      walk:
      while (true) {
        List<AuditLog.ChainedEntry> page = log.chained(prevSeq, PAGE);
        if (page.isEmpty()) {
          break;
        }
        long pageTo = page.getLast().seq();
        List<AuditLog.Checkpoint> cps = log.checkpoints(prevSeq + 1, pageTo, Integer.MAX_VALUE);
        int ci = 0;
        for (AuditLog.ChainedEntry e : page) {
          long expected = prevSeq + 1;
          if (e.seq() > head.seq()) {
            // Written after the walk began, or inserted: decided once the walk is done.
            beyondHead = e;
            break walk;
          }
          if (e.seq() != expected) {
            return new Problem(
                Kind.DELETED,
                expected,
                null,
                "entry after "
                    + prevSeq
                    + " is missing (seq "
                    + expected
                    + (e.seq() - expected > 1 ? " to " + (e.seq() - 1) : "")
                    + " deleted)");
          }
          if (!prevHash.equals(e.prev())) {
            return new Problem(
                Kind.INSERTED,
                e.seq(),
                e.id(),
                "entry "
                    + e.seq()
                    + " ("
                    + e.id()
                    + ") does not follow entry "
                    + prevSeq
                    + (prevId == null ? "" : " (" + prevId + ")")
                    + ": its previous hash does not match; it was inserted in place of the"
                    + " original, or the entry before it was edited and re-hashed");
          }
          String actual = AuditChain.hash(prevHash, e);
          if (!actual.equals(e.hash())) {
            return new Problem(
                Kind.EDITED,
                e.seq(),
                e.id(),
                "entry " + e.seq() + " (" + e.id() + ") was edited: its hash does not match");
          }
          entries++;
          while (ci < cps.size() && cps.get(ci).seq() <= e.seq()) {
            Problem p = checkpoint(cps.get(ci++), e);
            if (p != null) {
              return p;
            }
          }
          prevSeq = e.seq();
          prevHash = e.hash();
          prevId = e.id();
        }
      }
      if (lastCheckpoint > prevSeq) {
        return new Problem(
            Kind.TRUNCATED,
            prevSeq + 1,
            null,
            "entries after "
                + prevSeq
                + " are missing: checkpoint "
                + lastCheckpoint
                + " was signed when the chain had "
                + lastCheckpoint
                + " entries (seq "
                + (prevSeq + 1)
                + " to "
                + lastCheckpoint
                + " deleted)");
      }
      if (head.seq() > prevSeq) {
        return new Problem(
            Kind.TRUNCATED,
            prevSeq + 1,
            null,
            "entries after "
                + prevSeq
                + " are missing: the chain head is at seq "
                + head.seq()
                + " (seq "
                + (prevSeq + 1)
                + " to "
                + head.seq()
                + " deleted)");
      }
      if (prevSeq == head.seq() && prevSeq >= fromSeq && !prevHash.equals(head.hash())) {
        return new Problem(
            Kind.HEAD_MISMATCH,
            prevSeq,
            prevId,
            "the chain head does not match entry "
                + prevSeq
                + (prevId == null ? "" : " (" + prevId + ")")
                + ": the last entry or the head was changed");
      }
      if (beyondHead == null) {
        beyondHead = log.chained(head.seq(), 1).stream().findFirst().orElse(null);
      }
      if (beyondHead != null) {
        // An append commits its entry and the head together: an entry that was committed when it
        // was read is at or below the head read after it, unless it was inserted.
        long headNow = log.head().seq();
        if (beyondHead.seq() > headNow) {
          return new Problem(
              Kind.INSERTED,
              beyondHead.seq(),
              beyondHead.id(),
              "entry "
                  + beyondHead.id()
                  + " at seq "
                  + beyondHead.seq()
                  + " was inserted: the chain head is at seq "
                  + headNow);
        }
      }
      return null;
    }

    /** Checks a checkpoint against its signature and the entry at its seq. */
    private Problem checkpoint(AuditLog.Checkpoint c, AuditLog.ChainedEntry e) {
      Problem unsigned = signature(c);
      if (unsigned != null) {
        return unsigned;
      }
      checkpoints++;
      if (c.seq() != e.seq() || !c.hash().equals(e.hash())) {
        return new Problem(
            Kind.CHECKPOINT_MISMATCH,
            c.seq(),
            e.id(),
            "checkpoint "
                + c.seq()
                + " does not match entry "
                + e.seq()
                + " ("
                + e.id()
                + "): the entries up to it were rewritten after the checkpoint was signed");
      }
      return null;
    }

    /** Checks a checkpoint's signature by one of the controller's keys. */
    private Problem signature(AuditLog.Checkpoint c) {
      Optional<PublicKey> key = log.checkpointKey(c.keyId());
      boolean signed =
          key.isPresent()
              && AuditChain.isHash(c.hash())
              && Signatures.verify(
                  key.get(),
                  AuditChain.checkpointBytes(c.seq(), c.hash(), c.at().toEpochMilli()),
                  c.signature());
      if (!signed) {
        return new Problem(
            Kind.CHECKPOINT_INVALID,
            c.seq(),
            null,
            "checkpoint "
                + c.seq()
                + " signature invalid"
                + (key.isEmpty()
                    ? ": it names key " + c.keyId() + ", which is not one of the controller's"
                    : ": the checkpoint was changed or not signed by key " + c.keyId()));
      }
      return null;
    }
  }
}
