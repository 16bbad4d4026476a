package io.edgefleet.device.tpm;

import java.io.IOException;

/** The 10-byte header every TPM response starts with: tag, size, response code. */
final class Frames {
  static final int HEADER = 10;

  private Frames() {}

  /** The total size the header announces, checked against {@link TpmTransport#MAX_RESPONSE}. */
  static int responseSize(byte[] header, String endpoint) throws IOException {
    long size =
        ((header[2] & 0xffL) << 24)
            | ((header[3] & 0xffL) << 16)
            | ((header[4] & 0xffL) << 8)
            | (header[5] & 0xffL);
    if (size < HEADER || size > TpmTransport.MAX_RESPONSE) {
      throw new IOException(
          "the TPM at "
              + endpoint
              + " announced a response of "
              + size
              + " bytes; at most "
              + TpmTransport.MAX_RESPONSE
              + " are accepted");
    }
    return (int) size;
  }
}
