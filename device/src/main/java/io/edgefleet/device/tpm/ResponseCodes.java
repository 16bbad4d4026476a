package io.edgefleet.device.tpm;

import java.util.Map;

/** Names and meanings of TPM 2.0 response codes (TPM 2.0 Part 2, 6.6). */
final class ResponseCodes {
  private static final int FMT1 = 0x080;
  private static final int VER1 = 0x100;
  private static final int WARN = 0x900;

  /** Format-one codes: the error number, its name and what it means. */
  private static final Map<Integer, String[]> FORMAT_ONE =
      Map.ofEntries(
          e(0x01, "TPM_RC_ASYMMETRIC", "asymmetric algorithm not supported or not correct"),
          e(0x02, "TPM_RC_ATTRIBUTES", "inconsistent attributes"),
          e(0x03, "TPM_RC_HASH", "hash algorithm not supported or not appropriate"),
          e(0x04, "TPM_RC_VALUE", "value is out of range or not correct for the context"),
          e(0x05, "TPM_RC_HIERARCHY", "hierarchy is not enabled or not correct for the use"),
          e(0x07, "TPM_RC_KEY_SIZE", "key size is not supported"),
          e(0x08, "TPM_RC_MGF", "mask generation function not supported"),
          e(0x09, "TPM_RC_MODE", "mode of operation not supported"),
          e(0x0A, "TPM_RC_TYPE", "the type of the value is not appropriate for the use"),
          e(0x0B, "TPM_RC_HANDLE", "the handle is not correct for the use (no such object?)"),
          e(0x0C, "TPM_RC_KDF", "unsupported key derivation function"),
          e(0x0D, "TPM_RC_RANGE", "value was out of allowed range"),
          e(0x0E, "TPM_RC_AUTH_FAIL", "the authorization HMAC check failed"),
          e(0x0F, "TPM_RC_NONCE", "invalid nonce size or nonce value mismatch"),
          e(0x10, "TPM_RC_PP", "authorization requires assertion of physical presence"),
          e(0x12, "TPM_RC_SCHEME", "unsupported or incompatible scheme"),
          e(0x15, "TPM_RC_SIZE", "structure is the wrong size"),
          e(0x16, "TPM_RC_SYMMETRIC", "unsupported symmetric algorithm or key size"),
          e(0x17, "TPM_RC_TAG", "incorrect structure tag"),
          e(0x18, "TPM_RC_SELECTOR", "union selector is incorrect"),
          e(0x1A, "TPM_RC_INSUFFICIENT", "the TPM was unable to unmarshal a value"),
          e(0x1B, "TPM_RC_SIGNATURE", "the signature is not valid"),
          e(0x1C, "TPM_RC_KEY", "key fields are not compatible with the selected use"),
          e(0x1D, "TPM_RC_POLICY_FAIL", "a policy check failed"),
          e(0x1F, "TPM_RC_INTEGRITY", "integrity check failed (credential not for this TPM?)"),
          e(0x20, "TPM_RC_TICKET", "invalid ticket"),
          e(0x21, "TPM_RC_RESERVED_BITS", "reserved bits not set to zero as required"),
          e(0x22, "TPM_RC_BAD_AUTH", "authorization failure without DA implications"),
          e(0x23, "TPM_RC_EXPIRED", "the policy has expired"),
          e(0x24, "TPM_RC_POLICY_CC", "the command code in the policy is not the command"),
          e(0x25, "TPM_RC_BINDING", "public and sensitive portions of an object do not match"),
          e(0x26, "TPM_RC_CURVE", "curve not supported"),
          e(0x27, "TPM_RC_ECC_POINT", "point is not on the required curve"));

  /** Format-zero TPM 2.0 codes. */
  private static final Map<Integer, String[]> FORMAT_ZERO =
      Map.ofEntries(
          e(0x000, "TPM_RC_INITIALIZE", "TPM not initialized by TPM2_Startup"),
          e(0x001, "TPM_RC_FAILURE", "the TPM is in failure mode"),
          e(0x003, "TPM_RC_SEQUENCE", "improper use of a sequence handle"),
          e(0x00B, "TPM_RC_PRIVATE", "not currently used"),
          e(0x019, "TPM_RC_HMAC", "not currently used"),
          e(0x020, "TPM_RC_DISABLED", "the command is disabled"),
          e(
              0x021,
              "TPM_RC_EXCLUSIVE",
              "command failed because audit sequence required exclusivity"),
          e(0x024, "TPM_RC_AUTH_TYPE", "authorization handle is not correct for the command"),
          e(0x025, "TPM_RC_AUTH_MISSING", "the command requires an authorization session"),
          e(0x026, "TPM_RC_POLICY", "policy failure in math operation or an invalid authPolicy"),
          e(0x027, "TPM_RC_PCR", "PCR check fail"),
          e(0x028, "TPM_RC_PCR_CHANGED", "PCR have changed since checked"),
          e(0x02D, "TPM_RC_UPGRADE", "the TPM is in field upgrade mode"),
          e(0x02E, "TPM_RC_TOO_MANY_CONTEXTS", "context ID counter is at maximum"),
          e(0x02F, "TPM_RC_AUTH_UNAVAILABLE", "authValue or authPolicy is not available"),
          e(0x030, "TPM_RC_REBOOT", "a _TPM_Init and Startup(CLEAR) is required"),
          e(0x031, "TPM_RC_UNBALANCED", "the protection algorithms are not balanced"),
          e(0x042, "TPM_RC_COMMAND_SIZE", "command size is inconsistent with its contents"),
          e(0x043, "TPM_RC_COMMAND_CODE", "command code not supported"),
          e(0x044, "TPM_RC_AUTHSIZE", "the authorization size is out of range"),
          e(0x045, "TPM_RC_AUTH_CONTEXT", "use of an authorization session with a context command"),
          e(0x046, "TPM_RC_NV_RANGE", "NV offset plus size is out of range"),
          e(0x047, "TPM_RC_NV_SIZE", "requested allocation size is larger than allowed"),
          e(0x048, "TPM_RC_NV_LOCKED", "NV access is locked"),
          e(0x049, "TPM_RC_NV_AUTHORIZATION", "NV access authorization fails"),
          e(0x04A, "TPM_RC_NV_UNINITIALIZED", "the NV index has not been written"),
          e(0x04B, "TPM_RC_NV_SPACE", "insufficient NV space"),
          e(0x04C, "TPM_RC_NV_DEFINED", "NV index or persistent object already defined"),
          e(0x050, "TPM_RC_BAD_CONTEXT", "context in TPM2_ContextLoad is not valid"),
          e(0x051, "TPM_RC_CPHASH", "cpHash value already set or not correct"),
          e(0x052, "TPM_RC_PARENT", "handle for parent is not a valid parent"),
          e(0x053, "TPM_RC_NEEDS_TEST", "some function needs testing"),
          e(0x054, "TPM_RC_NO_RESULT", "an internal function cannot process a request"),
          e(0x055, "TPM_RC_SENSITIVE", "the sensitive area did not unmarshal correctly"));

  /** Warnings. */
  private static final Map<Integer, String[]> WARNINGS =
      Map.ofEntries(
          e(0x001, "TPM_RC_CONTEXT_GAP", "gap for context ID is too large"),
          e(0x002, "TPM_RC_OBJECT_MEMORY", "out of memory for object contexts (flush objects)"),
          e(0x003, "TPM_RC_SESSION_MEMORY", "out of memory for session contexts"),
          e(0x004, "TPM_RC_MEMORY", "out of shared object or session memory"),
          e(0x005, "TPM_RC_SESSION_HANDLES", "out of session handles"),
          e(0x006, "TPM_RC_OBJECT_HANDLES", "out of object handles (flush transient objects)"),
          e(0x007, "TPM_RC_LOCALITY", "bad locality"),
          e(0x008, "TPM_RC_YIELDED", "the TPM has suspended operation; retry"),
          e(0x009, "TPM_RC_CANCELED", "the command was canceled"),
          e(0x00A, "TPM_RC_TESTING", "the TPM is performing self-tests"),
          e(0x020, "TPM_RC_NV_RATE", "the TPM is rate-limiting writes to NV memory"),
          e(0x021, "TPM_RC_LOCKOUT", "the TPM is in dictionary-attack lockout"),
          e(0x022, "TPM_RC_RETRY", "the TPM was not able to start the command; retry"),
          e(0x023, "TPM_RC_NV_UNAVAILABLE", "the NV memory is not available"));

  private ResponseCodes() {}

  private static Map.Entry<Integer, String[]> e(int code, String name, String text) {
    return Map.entry(code, new String[] {name, text});
  }

  private static String[] lookup(long rc) {
    int r = (int) rc;
    if ((r & FMT1) != 0) {
      return FORMAT_ONE.get(r & 0x3f);
    }
    if ((r & 0xff00_0000) != 0 || (r & 0x00ff_0000) != 0) {
      return null; // a layer other than the TPM (resource manager, driver)
    }
    if ((r & WARN) == WARN) {
      return WARNINGS.get(r & 0x7f);
    }
    if ((r & VER1) != 0) {
      return FORMAT_ZERO.get(r & 0x7f);
    }
    return null;
  }

  /** The base name of {@code rc}: {@code TPM_RC_HANDLE}. */
  static String name(long rc) {
    String[] known = lookup(rc);
    if (known != null) {
      return known[0];
    }
    if ((rc & 0xff0000L) != 0) {
      return "TPM_RC_LAYER_" + ((rc >> 16) & 0xff);
    }
    return "TPM_RC_0x" + Long.toHexString(rc);
  }

  /** What {@code rc} means. */
  static String text(long rc) {
    String[] known = lookup(rc);
    if (known != null) {
      return known[1];
    }
    if ((rc & 0xff0000L) != 0) {
      return "error from the software layer " + ((rc >> 16) & 0xff) + " between us and the TPM";
    }
    return "unknown response code";
  }

  /** Which handle, session or parameter a format-one code points at: {@code , parameter 2}. */
  static String where(long rc) {
    int r = (int) rc;
    if ((r & FMT1) == 0 || (r & 0xffff0000) != 0) {
      return "";
    }
    int n = (r >> 8) & 0xf;
    if ((r & 0x40) != 0) {
      return ", parameter " + n;
    }
    if (n == 0) {
      return "";
    }
    return n >= 8 ? ", session " + (n - 8) : ", handle " + n;
  }

  /** Whether the TPM asks to try the command again. */
  static boolean retry(long rc) {
    return rc == (WARN | 0x008) || rc == (WARN | 0x00A) || rc == (WARN | 0x022);
  }
}
