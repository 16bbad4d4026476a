package io.edgefleet.device.tpm;

import io.edgefleet.protocol.tpm.TpmAlg;
import io.edgefleet.protocol.tpm.TpmBuffer;
import io.edgefleet.protocol.tpm.TpmFormatException;
import io.edgefleet.protocol.tpm.TpmPublic;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The TPM 2.0 commands the device uses, marshalled here over a {@link TpmTransport}: one method per
 * command, unauthenticated or with the empty password (and one policy session for the EK). A
 * failing command throws {@link TpmException} with the TPM's response code. Thread-safe: one
 * command at a time.
 */
public final class Tpm implements AutoCloseable {
  public static final int RH_OWNER = 0x40000001;
  public static final int RH_NULL = 0x40000007;
  public static final int RS_PW = 0x40000009;
  public static final int RH_ENDORSEMENT = 0x4000000B;

  /** Where swtpm_setup and most manufacturers persist the RSA EK. */
  public static final int EK_PERSISTENT = 0x81010001;

  /** NV index of the RSA 2048 EK certificate (TCG EK Credential Profile). */
  public static final int EK_CERT_NV = 0x01c00002;

  /** TPML_DIGEST holds at most 8 digests: PCR_Read answers at most that many per call. */
  public static final int PCRS_PER_READ = 8;

  private static final int ST_NO_SESSIONS = 0x8001;
  private static final int ST_SESSIONS = 0x8002;
  private static final int ST_HASHCHECK = 0x8024;
  private static final int SE_POLICY = 0x01;
  private static final int NV_CHUNK = 512;
  private static final int RETRIES = 5;

  private final TpmTransport transport;
  private final SecureRandom random = new SecureRandom();

  public Tpm(TpmTransport transport) {
    this.transport = transport;
  }

  /** Opens {@code spec} (see {@link TpmTransport#open}). */
  public static Tpm open(String spec) throws IOException {
    return new Tpm(TpmTransport.open(spec));
  }

  public TpmTransport transport() {
    return transport;
  }

  /** A key the TPM created or holds: its handle (flush transient ones), public area and name. */
  public record Loaded(int handle, TpmPublic publicArea, byte[] name) {}

  /** A signed TPMS_ATTEST (quote or certify): the attest bytes and the TPMT_SIGNATURE. */
  public record Signed(byte[] attest, byte[] signature) {}

  // ------------------------------------------------------------------ objects

  /** TPM2_CreatePrimary under {@code hierarchy} (empty auth) from {@code template}. */
  public Loaded createPrimary(int hierarchy, TpmPublic template) {
    TpmBuffer.Writer p = new TpmBuffer.Writer();
    p.u16(4).u16(0).u16(0); // TPM2B_SENSITIVE_CREATE: empty userAuth and data
    p.sized(template.marshal());
    p.u16(0); // outsideInfo
    p.u32(0); // creationPCR: none
    Response r = run("TPM2_CreatePrimary", 0x131, new int[] {hierarchy}, passwords(1), p, 1);
    TpmBuffer.Reader in = r.params();
    TpmPublic pub = TpmPublic.parse(in.sized());
    in.sized(); // creationData
    in.sized(); // creationHash
    in.u16(); // creationTicket: tag, hierarchy, digest
    in.u32();
    in.sized();
    byte[] name = in.sized();
    return new Loaded(r.handle(), pub, name);
  }

  /** TPM2_FlushContext. */
  public void flush(int handle) {
    run("TPM2_FlushContext", 0x165, new int[0], null, new TpmBuffer.Writer().u32(handle), 0);
  }

  /** Flushes {@code handle} and swallows any error: for clean-up paths. */
  public void flushQuietly(int handle) {
    try {
      flush(handle);
    } catch (TpmException e) {
      // Already gone (a session the TPM ended) or the TPM is unreachable: nothing to free.
    }
  }

  /** TPM2_ReadPublic. */
  public Loaded readPublic(int handle) {
    Response r = run("TPM2_ReadPublic", 0x173, new int[] {handle}, null, new TpmBuffer.Writer(), 0);
    TpmBuffer.Reader in = r.params();
    TpmPublic pub = TpmPublic.parse(in.sized());
    byte[] name = in.sized();
    return new Loaded(handle, pub, name);
  }

  /** Transient object handles loaded now (TPM2_GetCapability, TPM_CAP_HANDLES). */
  public List<Integer> transientHandles() {
    TpmBuffer.Writer p = new TpmBuffer.Writer().u32(1).u32(0x80000000L).u32(64);
    Response r = run("TPM2_GetCapability", 0x17A, new int[0], null, p, 0);
    TpmBuffer.Reader in = r.params();
    in.u8(); // moreData
    in.u32(); // capability
    long n = in.u32();
    List<Integer> handles = new ArrayList<>();
    for (long i = 0; i < n; i++) {
      handles.add((int) in.u32());
    }
    return handles;
  }

  // ------------------------------------------------------------------ NV

  /**
   * Reads the whole NV index {@code index} (TPM2_NV_ReadPublic for its size, then TPM2_NV_Read in
   * chunks), authorizing with the index's own empty auth, else the owner's.
   */
  public byte[] nvRead(int index, int maxSize) {
    Response pub =
        run("TPM2_NV_ReadPublic", 0x169, new int[] {index}, null, new TpmBuffer.Writer(), 0);
    TpmBuffer.Reader nv = new TpmBuffer.Reader(pub.params().sized());
    nv.u32(); // index
    nv.u16(); // nameAlg
    long attributes = nv.u32();
    nv.sized(); // authPolicy
    int size = nv.u16();
    if (size > maxSize) {
      throw new TpmException(
          "TPM2_NV_Read",
          -1,
          "NV index 0x"
              + Integer.toHexString(index)
              + " holds "
              + size
              + " bytes, more than the "
              + maxSize
              + " expected",
          null);
    }
    boolean authRead = (attributes & (1L << 18)) != 0; // TPMA_NV_AUTHREAD
    int auth = authRead ? index : RH_OWNER;
    TpmBuffer.Writer all = new TpmBuffer.Writer();
    for (int offset = 0; offset < size; offset += NV_CHUNK) {
      int n = Math.min(NV_CHUNK, size - offset);
      Response r =
          run(
              "TPM2_NV_Read",
              0x14E,
              new int[] {auth, index},
              passwords(1),
              new TpmBuffer.Writer().u16(n).u16(offset),
              0);
      byte[] chunk = r.params().sized();
      if (chunk.length != n) {
        throw new TpmException(
            "TPM2_NV_Read", -1, "asked for " + n + " NV bytes, got " + chunk.length, null);
      }
      all.bytes(chunk);
    }
    return all.toBytes();
  }

  // ------------------------------------------------------------------ sessions

  /** TPM2_StartAuthSession: an unbound, unsalted SHA-256 policy session. */
  public int startPolicySession() {
    byte[] nonce = new byte[16];
    random.nextBytes(nonce);
    TpmBuffer.Writer p = new TpmBuffer.Writer();
    p.sized(nonce).u16(0).u8(SE_POLICY).u16(TpmAlg.NULL).u16(TpmAlg.SHA256);
    return run("TPM2_StartAuthSession", 0x176, new int[] {RH_NULL, RH_NULL}, null, p, 1).handle();
  }

  /** TPM2_PolicySecret with {@code authHandle}'s empty password. */
  public void policySecret(int authHandle, int session) {
    TpmBuffer.Writer p = new TpmBuffer.Writer().u16(0).u16(0).u16(0).u32(0);
    run("TPM2_PolicySecret", 0x151, new int[] {authHandle, session}, passwords(1), p, 0);
  }

  /**
   * TPM2_ActivateCredential: {@code ak} (password) is the key the credential names, {@code ek}
   * (through the policy {@code ekSession}) the key it was encrypted to.
   *
   * @param credentialBlob a TPM2B_ID_OBJECT (with its size)
   * @param secret a TPM2B_ENCRYPTED_SECRET (with its size)
   */
  public byte[] activateCredential(
      int ak, int ek, int ekSession, byte[] credentialBlob, byte[] secret) {
    TpmBuffer.Writer p = new TpmBuffer.Writer().bytes(credentialBlob).bytes(secret);
    Response r =
        run(
            "TPM2_ActivateCredential",
            0x147,
            new int[] {ak, ek},
            new int[] {RS_PW, ekSession},
            p,
            0);
    return r.params().sized();
  }

  // ------------------------------------------------------------------ attestation

  /** TPM2_Certify of {@code object} by {@code signer} with its own scheme. */
  public Signed certify(int object, int signer, byte[] qualifyingData) {
    TpmBuffer.Writer p = new TpmBuffer.Writer().sized(qualifyingData).u16(TpmAlg.NULL);
    Response r = run("TPM2_Certify", 0x148, new int[] {object, signer}, passwords(2), p, 0);
    TpmBuffer.Reader in = r.params();
    byte[] attest = in.sized();
    return new Signed(attest, signature(in));
  }

  /** TPM2_Quote of the SHA-256 PCRs {@code pcrs} over {@code qualifyingData} by {@code signer}. */
  public Signed quote(int signer, byte[] qualifyingData, List<Integer> pcrs) {
    TpmBuffer.Writer p = new TpmBuffer.Writer().sized(qualifyingData).u16(TpmAlg.NULL);
    selection(p, pcrs);
    Response r = run("TPM2_Quote", 0x158, new int[] {signer}, passwords(1), p, 0);
    TpmBuffer.Reader in = r.params();
    byte[] attest = in.sized();
    return new Signed(attest, signature(in));
  }

  /**
   * The SHA-256 values of {@code pcrs}, by index: TPM2_PCR_Read, at most {@link #PCRS_PER_READ} per
   * call, repeated until all are read.
   */
  public Map<Integer, byte[]> pcrRead(List<Integer> pcrs) {
    TreeSet<Integer> left = new TreeSet<>(pcrs);
    Map<Integer, byte[]> values = new LinkedHashMap<>();
    while (!left.isEmpty()) {
      List<Integer> batch = new ArrayList<>();
      for (Integer i : left) {
        if (batch.size() == PCRS_PER_READ) {
          break;
        }
        batch.add(i);
      }
      TpmBuffer.Writer p = new TpmBuffer.Writer();
      selection(p, batch);
      TpmBuffer.Reader in = run("TPM2_PCR_Read", 0x17E, new int[0], null, p, 0).params();
      in.u32(); // pcrUpdateCounter
      List<Integer> got = new ArrayList<>();
      long banks = in.u32();
      for (long b = 0; b < banks; b++) {
        int hash = in.u16();
        int n = in.u8();
        byte[] bits = in.bytes(n);
        for (int i = 0; i < n * 8; i++) {
          if ((bits[i / 8] & (1 << (i % 8))) != 0 && hash == TpmAlg.SHA256) {
            got.add(i);
          }
        }
      }
      long digests = in.u32();
      if (digests != got.size() || got.isEmpty()) {
        throw new TpmException(
            "TPM2_PCR_Read",
            -1,
            "the TPM returned no SHA-256 value for PCR(s) "
                + batch
                + ": is the SHA-256 PCR bank active?",
            null);
      }
      for (Integer i : got) {
        byte[] v = in.sized();
        if (!left.remove(i)) {
          throw new TpmException(
              "TPM2_PCR_Read", -1, "the TPM returned PCR " + i + " unasked", null);
        }
        values.put(i, v);
      }
    }
    return values;
  }

  /** TPM2_PCR_Extend of SHA-256 PCR {@code pcr} with {@code digest}. */
  public void pcrExtend(int pcr, byte[] digest) {
    if (digest.length != 32) {
      throw new IllegalArgumentException("a SHA-256 digest has 32 bytes, not " + digest.length);
    }
    TpmBuffer.Writer p = new TpmBuffer.Writer().u32(1).u16(TpmAlg.SHA256).bytes(digest);
    run("TPM2_PCR_Extend", 0x182, new int[] {pcr}, passwords(1), p, 0);
  }

  // ------------------------------------------------------------------ keys in use

  /** TPM2_Sign of a SHA-256 {@code digest} with ECDSA; the TPMT_SIGNATURE. */
  public byte[] signEcdsaSha256(int key, byte[] digest) {
    TpmBuffer.Writer p = new TpmBuffer.Writer().sized(digest);
    p.u16(TpmAlg.ECDSA).u16(TpmAlg.SHA256);
    p.u16(ST_HASHCHECK).u32(RH_NULL).u16(0); // a null validation ticket
    Response r = run("TPM2_Sign", 0x15D, new int[] {key}, passwords(1), p, 0);
    return signature(r.params());
  }

  /** TPM2_ECDH_ZGen: the x coordinate of {@code key} times the point ({@code x}, {@code y}). */
  public byte[] ecdhZGen(int key, byte[] x, byte[] y) {
    TpmBuffer.Writer point = new TpmBuffer.Writer().sized(x).sized(y);
    TpmBuffer.Writer p = new TpmBuffer.Writer().sized(point.toBytes());
    Response r = run("TPM2_ECDH_ZGen", 0x154, new int[] {key}, passwords(1), p, 0);
    TpmBuffer.Reader out = new TpmBuffer.Reader(r.params().sized());
    return out.sized();
  }

  // ------------------------------------------------------------------ plumbing

  private static void selection(TpmBuffer.Writer p, List<Integer> pcrs) {
    byte[] bits = new byte[3];
    for (int i : pcrs) {
      if (i < 0 || i > 23) {
        throw new IllegalArgumentException("PCR indexes are 0 to 23, not " + i);
      }
      bits[i / 8] |= (byte) (1 << (i % 8));
    }
    p.u32(1).u16(TpmAlg.SHA256).u8(3).bytes(bits);
  }

  /** Reads a TPMT_SIGNATURE and returns its bytes as they are. */
  private static byte[] signature(TpmBuffer.Reader in) {
    int start = in.position();
    int alg = in.u16();
    if (alg == TpmAlg.ECDSA) {
      in.u16();
      in.sized();
      in.sized();
    } else if (alg == TpmAlg.RSASSA || alg == TpmAlg.RSAPSS) {
      in.u16();
      in.sized();
    } else {
      throw new TpmFormatException("unsupported signature algorithm 0x" + Integer.toHexString(alg));
    }
    return in.since(start);
  }

  private static int[] passwords(int n) {
    int[] a = new int[n];
    java.util.Arrays.fill(a, RS_PW);
    return a;
  }

  /** A response: its handle (if any) and parameters. */
  private record Response(int handle, byte[] parameters) {
    TpmBuffer.Reader params() {
      return new TpmBuffer.Reader(parameters);
    }
  }

  /**
   * Sends one command. {@code sessions} are session handles (the password session {@link #RS_PW} or
   * a policy session) for the authorized handles; null for a command without.
   */
  private Response run(
      String name,
      int code,
      int[] handles,
      int[] sessions,
      TpmBuffer.Writer params,
      int outHandles) {
    TpmBuffer.Writer body = new TpmBuffer.Writer();
    for (int h : handles) {
      body.u32(h & 0xffffffffL);
    }
    if (sessions != null) {
      TpmBuffer.Writer auth = new TpmBuffer.Writer();
      for (int s : sessions) {
        auth.u32(s & 0xffffffffL).u16(0).u8(s == RS_PW ? 1 : 0).u16(0);
      }
      body.u32(auth.size()).bytes(auth.toBytes());
    }
    body.bytes(params.toBytes());
    byte[] command =
        new TpmBuffer.Writer()
            .u16(sessions == null ? ST_NO_SESSIONS : ST_SESSIONS)
            .u32(10 + body.size())
            .u32(code)
            .bytes(body.toBytes())
            .toBytes();
    for (int attempt = 1; ; attempt++) {
      byte[] response;
      try {
        response = transport.transact(command);
      } catch (IOException e) {
        throw new TpmException(name, -1, name + " failed: " + e.getMessage(), e);
      }
      try {
        TpmBuffer.Reader in = new TpmBuffer.Reader(response);
        int tag = in.u16();
        in.u32();
        long rc = in.u32();
        if (rc != 0) {
          if (ResponseCodes.retry(rc) && attempt < RETRIES) {
            continue;
          }
          throw TpmException.of(name, rc);
        }
        int handle = 0;
        for (int i = 0; i < outHandles; i++) {
          handle = (int) in.u32();
        }
        if (tag == ST_SESSIONS) {
          long size = in.u32();
          if (size > in.remaining()) {
            throw new TpmFormatException("parameter size " + size + " exceeds the response");
          }
          return new Response(handle, in.bytes((int) size));
        }
        return new Response(handle, in.bytes(in.remaining()));
      } catch (TpmFormatException e) {
        throw new TpmException(
            name, -1, name + " failed: the TPM's answer is unreadable: " + e.getMessage(), e);
      }
    }
  }

  @Override
  public void close() {
    transport.close();
  }
}
