package io.edgefleet.device.desiredstate;

/** Why a document or a bundle was refused; {@link #kind()} names it for events. */
public final class Refused extends Exception {
  private final String kind;

  public Refused(String kind, String message) {
    super(message);
    this.kind = kind;
  }

  public String kind() {
    return kind;
  }
}
