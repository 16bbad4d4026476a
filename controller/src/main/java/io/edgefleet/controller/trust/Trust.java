package io.edgefleet.controller.trust;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.controller.gateway.Connections;
import io.edgefleet.protocol.tpm.EkRoots;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.function.Consumer;
import org.jdbi.v3.core.Jdbi;

/**
 * Device trust as a whole: the trust state of TPM devices ({@link DeviceTrust}), enrollment with a
 * TPM ({@link TpmEnrollments}), attestation over the devices' connections ({@link Attestations}),
 * operators' review ({@link TrustReview}) and the renewal check. Built once by the controller.
 */
public final class Trust implements AutoCloseable {
  private final DeviceTrust deviceTrust;
  private final TpmEnrollments enrollments;
  private final Attestations attestations;
  private final TrustReview review;
  private final RenewalProofs renewals;

  /**
   * @param quarantineChanged hears of a device that entered or left quarantine (one that left may
   *     now get what was held back; its site cache stops or resumes serving it)
   * @throws UncheckedIOException when the EK certificates of {@code --tpm-ca} cannot be read
   */
  public Trust(
      Jdbi jdbi,
      Clock clock,
      TrustOptions options,
      DeviceStore devices,
      Connections connections,
      AuditLog audit,
      Consumer<String> quarantineChanged) {
    TrustStore store = new TrustStore();
    References references = new References(jdbi, store);
    this.deviceTrust =
        new DeviceTrust(
            jdbi,
            clock,
            store,
            devices,
            references,
            connections,
            options.missedLimit(),
            quarantineChanged);
    deviceTrust.load();
    this.enrollments =
        new TpmEnrollments(
            clock, options, options.tpmCa().map(Trust::roots), store, devices, deviceTrust);
    this.attestations = new Attestations(deviceTrust, connections, clock, options);
    this.review = new TrustReview(jdbi, clock, store, devices, references, deviceTrust, audit);
    this.renewals = new RenewalProofs(deviceTrust);
  }

  private static EkRoots roots(Path dir) {
    try {
      return EkRoots.load(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot read the TPM manufacturer certificates of --tpm-ca "
              + dir
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /** Whether devices are quarantined; what other features ask before handing anything out. */
  public DeviceTrust devices() {
    return deviceTrust;
  }

  public TpmEnrollments enrollments() {
    return enrollments;
  }

  public Attestations attestations() {
    return attestations;
  }

  public TrustReview review() {
    return review;
  }

  /** The check of a renewal's new key. */
  public DeviceTrustView.RenewalGuard renewals() {
    return renewals;
  }

  /** The EK roots loaded, if any (for the controller's start-up log). */
  public static Optional<String> describe(TrustOptions options) {
    return options.tpmCa().map(dir -> "TPM manufacturer certificates from " + dir);
  }

  @Override
  public void close() {
    attestations.close();
  }
}
