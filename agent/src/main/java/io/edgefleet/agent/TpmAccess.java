package io.edgefleet.agent;

import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.device.tpm.TpmProvider;
import java.io.IOException;
import java.util.Optional;

/**
 * The TPM the agent was told to use ({@code --tpm}), opened on first use. Opening it registers
 * {@link TpmProvider}, so JCA signatures with a TPM key (TLS, CSRs) reach the TPM.
 */
final class TpmAccess implements AutoCloseable {
  private final Optional<String> spec;
  private TpmDevice device;

  TpmAccess(Optional<String> spec) {
    this.spec = spec;
  }

  /** Whether a TPM is configured. */
  boolean configured() {
    return spec.isPresent();
  }

  /** The TPM, opened on first use. */
  synchronized TpmDevice device() {
    if (spec.isEmpty()) {
      throw new AgentException(
          AgentException.Code.TPM_UNAVAILABLE,
          "the device key lives in a TPM but no TPM is configured: start the agent with --tpm"
              + " (or wipe the state directory to enroll again with a software key)");
    }
    if (device == null) {
      try {
        device = TpmDevice.open(spec.get());
      } catch (IOException | IllegalArgumentException e) {
        throw new AgentException(
            AgentException.Code.TPM_UNAVAILABLE,
            "cannot use the TPM "
                + spec.get()
                + ": "
                + e.getMessage()
                + " (give another one with --tpm, or --no-tpm for a software key)",
            e);
      }
      TpmProvider.install();
    }
    return device;
  }

  @Override
  public synchronized void close() {
    if (device != null) {
      device.close();
      device = null;
    }
  }
}
