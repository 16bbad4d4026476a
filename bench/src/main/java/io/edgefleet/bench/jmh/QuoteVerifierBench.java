package io.edgefleet.bench.jmh;

import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tpm.AttestationException;
import io.edgefleet.protocol.tpm.Credentials;
import io.edgefleet.protocol.tpm.EventLog;
import io.edgefleet.protocol.tpm.QuoteVerifier;
import io.edgefleet.protocol.tpm.SoftEkCa;
import io.edgefleet.protocol.tpm.SoftTpm;
import io.edgefleet.protocol.tpm.VerifiedQuote;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What the controller spends per TPM device: verifying a quote of PCRs 0-9 (ECDSA P-256 signature,
 * nonce, selection, digest) with and without the boot event log of a UEFI boot (about 40 events:
 * base64 decoding, parsing, replay), diffing that log against a reference, and making the
 * credential of an enrollment (RSA-OAEP to the EK, KDFa, AES-CFB, HMAC).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class QuoteVerifierBench {
  static final List<Integer> PCRS = List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);

  private SoftTpm tpm;
  private byte[] nonce;
  private TpmQuote withLog;
  private TpmQuote withoutLog;
  private EventLog reference;
  private EventLog changed;

  @Setup
  public void setUp() {
    tpm = SoftTpm.create(SoftEkCa.create("bench"), SoftTpm.newEk(), SoftTpm.sampleBoot());
    nonce = new byte[32];
    nonce[3] = 42;
    withLog = tpm.quote(nonce, PCRS);
    withoutLog = new TpmQuote(withLog.attest(), withLog.signature(), withLog.pcrs(), null);
    reference = EventLog.parse(Base64.getDecoder().decode(withLog.eventLog()));
    SoftTpm other = SoftTpm.create(SoftEkCa.create("bench"), SoftTpm.newEk(), SoftTpm.sampleBoot());
    other.measure(7, 0x800000E0L, new byte[] {1});
    changed = other.eventLog().orElseThrow();
  }

  /** An attestation of a device that sends no event log. */
  @Benchmark
  public VerifiedQuote verifyQuote() throws AttestationException {
    return QuoteVerifier.verify(tpm.akPublic(), withoutLog, nonce, PCRS);
  }

  /** An attestation of a device that sends its boot event log, replayed against the quote. */
  @Benchmark
  public VerifiedQuote verifyQuoteWithEventLog() throws AttestationException {
    return QuoteVerifier.verify(tpm.akPublic(), withLog, nonce, PCRS);
  }

  /** What {@code devices attestation show} computes: the log against the reference. */
  @Benchmark
  public int diffEventLogs() {
    return EventLog.diff(reference, changed).size();
  }

  /** The credential of an enrollment's ACTIVATE answer. */
  @Benchmark
  public Credentials.Challenge makeCredential() {
    return Credentials.make(tpm.ekPublic(), tpm.akPublic().name(), nonce);
  }

  /** The sizes, for the report. */
  public static void main(String[] args) {
    QuoteVerifierBench b = new QuoteVerifierBench();
    b.setUp();
    System.out.println(
        "event log "
            + b.reference.size()
            + " B, "
            + b.reference.events().size()
            + " events; quote JSON with log "
            + io.edgefleet.protocol.Json.writeBytes(b.withLog).length
            + " B");
  }
}
