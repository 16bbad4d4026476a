package io.edgefleet.agent;

import io.edgefleet.device.tpm.Nonces;
import io.edgefleet.device.tpm.TpmException;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.TpmQuote;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Answers the controller's attestation challenges: a quote of the asked PCRs over its nonce by the
 * attestation key, with the boot event log, or the reason there is none (no TPM, a malformed
 * challenge, the TPM's error). The TPM work runs on the work executor, never on the socket's
 * thread; at most {@link #MAX_PENDING} challenges wait at a time, more are answered with an error.
 */
final class AttestationFeature implements AgentFeature {
  static final int MAX_PENDING = 4;

  private final TpmAccess tpm;
  private final TpmEventLog eventLog;
  private final Executor work;
  private final AtomicInteger pending = new AtomicInteger();
  private volatile Channel channel;

  AttestationFeature(TpmAccess tpm, TpmEventLog eventLog, Executor work) {
    this.tpm = tpm;
    this.eventLog = eventLog;
    this.work = work;
  }

  @Override
  public void connected(Channel channel, ControllerMessage.Welcome welcome) {
    this.channel = channel;
  }

  @Override
  public void disconnected() {
    channel = null;
  }

  @Override
  public boolean handle(ControllerMessage message) {
    if (!(message instanceof ControllerMessage.AttestationChallenge c)) {
      return false;
    }
    Channel ch = channel;
    if (ch == null) {
      return true;
    }
    if (pending.incrementAndGet() > MAX_PENDING) {
      pending.decrementAndGet();
      ch.send(
          new AgentMessage.AttestationAnswer(
              c.id(), null, "busy: too many attestations" + " at once; ask again later"));
      return true;
    }
    try {
      work.execute(
          () -> {
            try {
              ch.send(answer(c));
            } finally {
              pending.decrementAndGet();
            }
          });
    } catch (RejectedExecutionException e) {
      pending.decrementAndGet();
    }
    return true;
  }

  /** The answer to {@code c}: a quote, or why there is none. */
  AgentMessage.AttestationAnswer answer(ControllerMessage.AttestationChallenge c) {
    if (!tpm.configured()) {
      return new AgentMessage.AttestationAnswer(
          c.id(), null, "this device has no TPM (the agent runs with --no-tpm, or found none)");
    }
    try {
      byte[] nonce = Nonces.decode(c.nonce());
      TpmQuote quote = tpm.device().quote(nonce, Nonces.pcrs(c.pcrs()), eventLog.read());
      return new AgentMessage.AttestationAnswer(c.id(), quote, null);
    } catch (IllegalArgumentException e) {
      return new AgentMessage.AttestationAnswer(
          c.id(), null, "malformed attestation challenge: " + e.getMessage());
    } catch (TpmException | AgentException e) {
      return new AgentMessage.AttestationAnswer(c.id(), null, e.getMessage());
    }
  }

  @Override
  public void close() {
    channel = null;
  }
}
