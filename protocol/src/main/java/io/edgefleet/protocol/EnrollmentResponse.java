package io.edgefleet.protocol;

/**
 * The controller's answer to an enrollment request.
 *
 * @param status APPROVED (certificate issued), PENDING (an operator must approve; poll again after
 *     {@code retryAfterSeconds}) or REJECTED
 * @param enrollmentCode short code a person on site reads to the operator
 * @param approvalUrl link an operator opens to approve this device
 * @param certificatePem the device certificate (APPROVED only)
 * @param caCertificatePem the controller CA that issued it (APPROVED only)
 * @param signingKeyPem the Ed25519 key that signs desired state (APPROVED only)
 * @param activation the credential-activation challenge (ACTIVATE only): the device unwraps it with
 *     its TPM and repeats the request with the credential and a quote
 */
public record EnrollmentResponse(
    Status status,
    String deviceId,
    String enrollmentCode,
    String approvalUrl,
    String certificatePem,
    String caCertificatePem,
    Integer retryAfterSeconds,
    String message,
    String signingKeyPem,
    @com.fasterxml.jackson.annotation.JsonInclude(
            com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
        TpmChallenge activation,
    @com.fasterxml.jackson.annotation.JsonInclude(
            com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY)
        java.util.List<DesiredState.SigningKey> releaseKeys) {
  public enum Status {
    APPROVED,
    PENDING,
    REJECTED,
    /** Prove the TPM: activate the credential in {@code activation} and ask again. */
    ACTIVATE
  }

  public EnrollmentResponse {
    releaseKeys = releaseKeys == null ? java.util.List.of() : java.util.List.copyOf(releaseKeys);
  }

  /** An answer that hands out no agent release keys. */
  public EnrollmentResponse(
      Status status,
      String deviceId,
      String enrollmentCode,
      String approvalUrl,
      String certificatePem,
      String caCertificatePem,
      Integer retryAfterSeconds,
      String message,
      String signingKeyPem,
      TpmChallenge activation) {
    this(
        status,
        deviceId,
        enrollmentCode,
        approvalUrl,
        certificatePem,
        caCertificatePem,
        retryAfterSeconds,
        message,
        signingKeyPem,
        activation,
        null);
  }

  public EnrollmentResponse(
      Status status,
      String deviceId,
      String enrollmentCode,
      String approvalUrl,
      String certificatePem,
      String caCertificatePem,
      Integer retryAfterSeconds,
      String message,
      String signingKeyPem) {
    this(
        status,
        deviceId,
        enrollmentCode,
        approvalUrl,
        certificatePem,
        caCertificatePem,
        retryAfterSeconds,
        message,
        signingKeyPem,
        null,
        null);
  }
}
