package io.edgefleet.agent.runtime;

import java.util.Objects;

/**
 * One object of an app that was found deleted or changed behind the agent's back and put back by an
 * apply of the revision already in effect. The agent's own changes (a new revision, pruning) are
 * never drift.
 *
 * @param object the object for people: kind, then namespace/name ({@code Deployment web/web}) or
 *     the name alone for cluster-scoped objects ({@code Namespace shop})
 * @param cause what had happened to it
 */
public record DriftRepair(String object, Cause cause) {

  /** What had happened to a repaired object. */
  public enum Cause {
    /** It was gone: the apply created it again. */
    DELETED("recreated", "that was deleted"),
    /**
     * A field the agent manages had been changed or removed by someone else (its labels, its
     * revision annotation, or a field whose ownership moved to another field manager): the apply
     * set it back.
     */
    CHANGED("restored", "changed outside edgefleet"),
    /**
     * It had stopped (a container that exited, was killed or did not come back after a reboot) and
     * its restart policy says it runs: the apply started it again.
     */
    STOPPED("restarted", "that had stopped");

    private final String verb;
    private final String what;

    Cause(String verb, String what) {
      this.verb = verb;
      this.what = what;
    }

    /** What the repair did: {@code recreated} or {@code restored}. */
    public String verb() {
      return verb;
    }

    /** What had happened, as a relative clause: {@code that was deleted}. */
    public String clause() {
      return what;
    }
  }

  public DriftRepair {
    Objects.requireNonNull(object, "object");
    Objects.requireNonNull(cause, "cause");
    if (object.isBlank()) {
      throw new IllegalArgumentException("object must not be blank");
    }
  }

  /** For people: {@code recreated Deployment web/web that was deleted}. */
  public String describe() {
    return cause.verb() + " " + object + " " + cause.clause();
  }
}
