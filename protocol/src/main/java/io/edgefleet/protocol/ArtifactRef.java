package io.edgefleet.protocol;

/**
 * A content-addressed artifact a device fetches from {@link DeviceApi#ARTIFACTS}: a K3s binary
 * today. The device verifies the digest before it uses a byte of it.
 *
 * @param digest {@code sha256:<64 lowercase hex>} of the content
 * @param size the content's length in bytes
 */
public record ArtifactRef(String digest, long size) {}
