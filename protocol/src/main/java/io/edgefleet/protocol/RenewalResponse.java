package io.edgefleet.protocol;

/** The renewed device certificate and the CA that issued it. */
public record RenewalResponse(String certificatePem, String caCertificatePem) {}
