package io.edgefleet.controller.common;

/** The controller's version, as its jar says, or a development version. */
public final class ControllerVersion {
  public static final String CURRENT = version();

  private ControllerVersion() {}

  private static String version() {
    String v = ControllerVersion.class.getPackage().getImplementationVersion();
    return v == null ? "0.1.0-dev" : v;
  }
}
