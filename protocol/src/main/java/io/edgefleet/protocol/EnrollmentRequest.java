package io.edgefleet.protocol;

/**
 * An agent asks to join. Either {@code token} (an onboarding token) or a pre-registered {@code
 * serial} is the credential. The CSR proves possession of the agent's own P-256 key; repeating the
 * same request (same key) is idempotent and is how a pending agent polls.
 *
 * @param name the device name the agent asks for (its {@code --name}); null for its host name. The
 *     controller may add a suffix ({@code -2}, {@code -3}, …) when another device has that name.
 * @param tpm the TPM identity of a device whose key lives in a TPM; null for a software key
 */
public record EnrollmentRequest(
    String token,
    String serial,
    String csrPem,
    DeviceFacts facts,
    String name,
    @com.fasterxml.jackson.annotation.JsonInclude(
            com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
        TpmEnrollment tpm) {

  /** A request with a software key. */
  public EnrollmentRequest(
      String token, String serial, String csrPem, DeviceFacts facts, String name) {
    this(token, serial, csrPem, facts, name, null);
  }

  /** A request that asks for no particular name. */
  public EnrollmentRequest(String token, String serial, String csrPem, DeviceFacts facts) {
    this(token, serial, csrPem, facts, null, null);
  }
}
