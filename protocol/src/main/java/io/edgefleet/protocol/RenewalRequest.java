package io.edgefleet.protocol;

/**
 * A connected device asks for a fresh certificate for its key before the current one expires. Sent
 * over mutual TLS with the current certificate; the CSR must be for the same key.
 */
public record RenewalRequest(String csrPem) {}
