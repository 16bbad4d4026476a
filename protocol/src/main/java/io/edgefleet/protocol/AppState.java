package io.edgefleet.protocol;

/** What a device reports about one application it runs. */
public record AppState(String name, String revision, Phase phase, String reason) {

  /** APPLIED: accepted by the runtime, readiness not known yet. */
  public enum Phase {
    APPLIED,
    PROGRESSING,
    READY,
    FAILED
  }
}
