package io.edgefleet.bench.jmh;

import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.Signatures;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Ed25519 over a desired-state document of five apps (the exact JSON bytes the engine signs): the
 * controller signs once per device and change, the agent verifies once per document it fetches.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SignatureBench {
  private KeyPair keys;
  private byte[] payload;
  private String signature;

  @Setup
  public void setUp() throws NoSuchAlgorithmException {
    keys = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    payload = Json.writeBytes(Fixtures.desiredState("dev-0123456789abcdef", 7));
    signature = Signatures.sign(keys.getPrivate(), payload);
  }

  /** Controller: one signature per device whose desired state changed. */
  @Benchmark
  public String sign() {
    return Signatures.sign(keys.getPrivate(), payload);
  }

  /** Agent: one verification per fetched document. */
  @Benchmark
  public boolean verify() {
    return Signatures.verify(keys.getPublic(), payload, signature);
  }

  /** The document's size, for the report. */
  public static void main(String[] args) throws Exception {
    SignatureBench b = new SignatureBench();
    b.setUp();
    System.out.println("payload " + b.payload.length + " B");
  }
}
