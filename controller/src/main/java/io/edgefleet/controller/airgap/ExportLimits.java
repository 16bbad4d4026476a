package io.edgefleet.controller.airgap;

/**
 * How big an export bundle may get: the controller refuses a request above either bound before it
 * writes a byte, so one request cannot tie up the controller's disk reads and a client for hours.
 *
 * @param maxDevices the most devices one bundle holds
 * @param maxBytes the most bytes of documents, bundles and blobs one bundle holds
 */
public record ExportLimits(int maxDevices, long maxBytes) {
  public static final int DEFAULT_MAX_DEVICES = 500;
  public static final long DEFAULT_MAX_BYTES = 16L << 30;

  public ExportLimits {
    if (maxDevices < 1 || maxBytes < 1) {
      throw new IllegalArgumentException(
          "export limits must be at least 1 (--export-max-devices, --export-max-bytes)");
    }
  }

  public static ExportLimits defaults() {
    return new ExportLimits(DEFAULT_MAX_DEVICES, DEFAULT_MAX_BYTES);
  }
}
