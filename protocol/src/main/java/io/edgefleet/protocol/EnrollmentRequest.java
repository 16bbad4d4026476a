package io.edgefleet.protocol;

/**
 * An agent asks to join. Either {@code token} (an onboarding token) or a pre-registered {@code
 * serial} is the credential. The CSR proves possession of the agent's own P-256 key; repeating the
 * same request (same key) is idempotent and is how a pending agent polls.
 */
public record EnrollmentRequest(String token, String serial, String csrPem, DeviceFacts facts) {}
