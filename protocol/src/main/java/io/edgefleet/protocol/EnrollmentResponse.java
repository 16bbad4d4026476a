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
    String signingKeyPem) {
  public enum Status {
    APPROVED,
    PENDING,
    REJECTED
  }
}
