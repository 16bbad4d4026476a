package io.edgefleet.agent;

import io.edgefleet.protocol.TpmQuote;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The measured-boot event log sent with quotes, read afresh each time (the kernel's securityfs file
 * grows while the system runs) and never beyond {@link TpmQuote#MAX_EVENT_LOG_BYTES}.
 */
final class TpmEventLog {
  private final Optional<Path> file;

  TpmEventLog(Optional<Path> file) {
    this.file = file;
  }

  /**
   * The log's bytes; null if there is none, it cannot be read, or it is larger than the controller
   * takes (then the quote goes without it, and the controller checks the PCRs alone).
   */
  byte[] read() {
    if (file.isEmpty()) {
      return null;
    }
    try (InputStream in = Files.newInputStream(file.get())) {
      byte[] b = in.readNBytes(TpmQuote.MAX_EVENT_LOG_BYTES + 1);
      return b.length > TpmQuote.MAX_EVENT_LOG_BYTES || b.length == 0 ? null : b;
    } catch (IOException e) {
      return null;
    }
  }
}
