package io.edgefleet.device.tpm;

import java.security.InvalidKeyException;
import java.security.InvalidParameterException;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Security;
import java.security.SignatureException;
import java.security.SignatureSpi;
import java.util.List;
import java.util.Map;

/**
 * A JCA provider whose {@code SHA256withECDSA} signs with a {@link TpmPrivateKey}: the data is
 * hashed here and the digest signed by the TPM. It takes no other key, so JCA's delayed provider
 * selection sends software keys to the usual providers and TPM keys here; TLS client authentication
 * (JSSE's CertificateVerify) and CSR signing then work unchanged. Register it with {@link
 * #install()}.
 */
public final class TpmProvider extends Provider {
  private static final long serialVersionUID = 1L;
  public static final String NAME = "EdgefleetTPM";

  public TpmProvider() {
    super(NAME, "1.0", "Signatures with a device key held in a TPM 2.0");
    putService(new SignatureService(this));
  }

  /** Adds the provider to the JVM's list (last, so it is asked only for TPM keys); idempotent. */
  public static synchronized void install() {
    if (Security.getProvider(NAME) == null) {
      Security.addProvider(new TpmProvider());
    }
  }

  private static final class SignatureService extends Provider.Service {
    SignatureService(Provider p) {
      super(
          p,
          "Signature",
          "SHA256withECDSA",
          TpmSignature.class.getName(),
          List.of("1.2.840.10045.4.3.2", "OID.1.2.840.10045.4.3.2"),
          Map.of("SupportedKeyClasses", TpmPrivateKey.class.getName()));
    }

    @Override
    public Object newInstance(Object constructorParameter) {
      return new TpmSignature();
    }

    @Override
    public boolean supportsParameter(Object parameter) {
      return parameter instanceof TpmPrivateKey;
    }
  }

  /** SHA256withECDSA with the key in the TPM: signing only (verification is any provider's). */
  static final class TpmSignature extends SignatureSpi {
    private java.security.MessageDigest digest;
    private TpmPrivateKey key;

    @Override
    protected void engineInitSign(PrivateKey privateKey) throws InvalidKeyException {
      if (!(privateKey instanceof TpmPrivateKey k)) {
        throw new InvalidKeyException("only keys held in a TPM: " + privateKey.getClass());
      }
      key = k;
      try {
        digest = java.security.MessageDigest.getInstance("SHA-256");
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    protected void engineInitVerify(PublicKey publicKey) throws InvalidKeyException {
      throw new InvalidKeyException("the TPM provider only signs");
    }

    @Override
    protected void engineUpdate(byte b) {
      digest.update(b);
    }

    @Override
    protected void engineUpdate(byte[] b, int off, int len) {
      digest.update(b, off, len);
    }

    @Override
    protected byte[] engineSign() throws SignatureException {
      if (key == null) {
        throw new SignatureException("not initialised for signing");
      }
      try {
        return key.signDigest(digest.digest());
      } catch (TpmException e) {
        throw new SignatureException(e.getMessage(), e);
      }
    }

    @Override
    protected boolean engineVerify(byte[] sigBytes) throws SignatureException {
      throw new SignatureException("the TPM provider only signs");
    }

    @Override
    @Deprecated
    protected void engineSetParameter(String param, Object value) {
      throw new InvalidParameterException("no parameters");
    }

    @Override
    @Deprecated
    protected Object engineGetParameter(String param) {
      throw new InvalidParameterException("no parameters");
    }
  }
}
