package io.edgefleet.protocol;

/**
 * One secret as delivered to one device: sealed to that device's own key, so only it can read it.
 *
 * @param name the secret's name; the agent materialises it as a Kubernetes Secret of that name
 * @param version the version the desired state references
 * @param namespace the Kubernetes namespace it goes into
 * @param sealed base64 of the sealed box ({@link io.edgefleet.protocol.tls.SealedBox}) whose
 *     plaintext is the JSON object of the secret's keys to base64 values
 */
public record DeviceSecret(String name, long version, String namespace, String sealed) {}
