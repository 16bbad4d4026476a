package io.edgefleet.simulator;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.TpmEnrollment;
import io.edgefleet.protocol.tpm.EventLog;
import io.edgefleet.protocol.tpm.SoftEkCa;
import io.edgefleet.protocol.tpm.SoftTpm;
import io.edgefleet.protocol.tpm.TpmFormatException;
import io.edgefleet.protocol.tpm.TpmPublic;
import java.io.IOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.interfaces.ECPublicKey;
import java.util.Base64;

/**
 * The software TPM of one simulated device ({@code --attestation}): while enrolling, an EK from the
 * fleet's {@link EkPool} certified by the fleet's software EK CA and a fresh attestation key; once
 * enrolled, only the attestation key (the EK is dropped, as only credential activation needs it),
 * so an enrolled device holds one P-256 key pair and references to the fleet's shared boot log.
 * Every device boots the same {@link SoftTpm#sampleBoot()}. Not thread-safe: the device's monitor
 * guards it.
 */
final class SimulatedTpm {
  /** Credential activations in a row before an enrollment is given up as a loop. */
  static final int MAX_ACTIVATIONS = 3;

  /** What the devices of one simulator share: the EK CA, the EK pool and the boot log. */
  record Fleet(SoftEkCa ca, EkPool eks, EventLog boot, Path caDir) {
    static Fleet open(Path caDir) throws IOException {
      return new Fleet(
          SoftEkCa.loadOrCreate(caDir, "edgefleet simulator TPM EK CA"),
          new EkPool(),
          SoftTpm.sampleBoot(),
          caDir);
    }
  }

  private final Fleet fleet;
  private SoftTpm tpm;
  private TpmEnrollment first;
  private int activations;

  private SimulatedTpm(Fleet fleet, SoftTpm tpm) {
    this.fleet = fleet;
    this.tpm = tpm;
  }

  /** A device that has yet to enroll: it gets an endorsement key. */
  static SimulatedTpm enrolling(Fleet fleet) {
    return new SimulatedTpm(fleet, SoftTpm.create(fleet.ca(), fleet.eks().next(), fleet.boot()));
  }

  /** An enrolled device restarting with its saved attestation key. */
  static SimulatedTpm restored(Fleet fleet, String akPublic, PrivateKey akPrivate) {
    TpmPublic area = TpmPublic.parse(Base64.getDecoder().decode(akPublic));
    KeyPair ak = new KeyPair(area.toPublicKey(), akPrivate);
    return new SimulatedTpm(fleet, SoftTpm.restore(ak, fleet.boot()));
  }

  /** The TPM part of the first enrollment request, for the CSR's key {@code deviceKey}. */
  TpmEnrollment request(ECPublicKey deviceKey) {
    first = tpm.enrollment(deviceKey);
    activations = 0;
    return first;
  }

  /**
   * The repeated request answering an ACTIVATE.
   *
   * @throws IllegalStateException after {@link #MAX_ACTIVATIONS} in a row, or when the credential
   *     is not for this TPM
   */
  TpmEnrollment activate(TpmChallenge challenge) {
    if (first == null) {
      throw new IllegalStateException("ACTIVATE without a TPM enrollment request");
    }
    if (++activations > MAX_ACTIVATIONS) {
      throw new IllegalStateException(
          "the controller asked for credential activation " + activations + " times in a row");
    }
    try {
      return tpm.activated(first, challenge);
    } catch (TpmFormatException | IllegalArgumentException e) {
      throw new IllegalStateException("credential activation failed: " + e.getMessage(), e);
    }
  }

  /** Enrollment is over: keep only the attestation key. */
  void enrolled() {
    tpm = SoftTpm.restore(tpm.attestationKey(), fleet.boot());
    first = null;
  }

  KeyPair attestationKey() {
    return tpm.attestationKey();
  }

  /** Base64 of the attestation key's TPMT_PUBLIC, as saved with the identity. */
  String attestationPublic() {
    return Base64.getEncoder().encodeToString(tpm.akPublic().marshal());
  }

  /** The quote a challenge asks for, or why there is none. */
  AgentMessage.AttestationAnswer answer(ControllerMessage.AttestationChallenge c) {
    try {
      byte[] nonce = Base64.getDecoder().decode(c.nonce());
      return new AgentMessage.AttestationAnswer(c.id(), tpm.quote(nonce, c.pcrs()), null);
    } catch (IllegalArgumentException e) {
      return new AgentMessage.AttestationAnswer(c.id(), null, "cannot quote: " + e.getMessage());
    }
  }

  /** The answer of a device without a TPM. */
  static AgentMessage.AttestationAnswer noTpm(ControllerMessage.AttestationChallenge c) {
    return new AgentMessage.AttestationAnswer(
        c.id(), null, "this simulated device has no TPM (run the simulator with --attestation)");
  }
}
