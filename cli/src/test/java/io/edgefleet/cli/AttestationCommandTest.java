package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Rendering of a device's attestation as {@code GET /api/v1/devices/{id}/attestation} answers. */
class AttestationCommandTest {
  private static final Instant NOW = Instant.parse("2026-06-01T12:00:00Z");

  @Test
  void showsTheTrustThePcrsThatDifferAndTheBootEventsThatChanged() throws Exception {
    JsonNode a =
        Json.mapper()
            .readTree(
                """
                {"deviceId":"dev-1","identity":"tpm","state":"QUARANTINED",
                 "reason":"PCR 4 differs from the device's own reference (enrollment)",
                 "since":"2026-06-01T11:00:00Z","ekIssuer":"CN=Vendor CA","akName":"000b12",
                 "lastAttested":"2026-06-01T10:00:00Z",
                 "referenceOrigin":"the device's own reference (enrollment)",
                 "pcrs":[{"index":0,"reference":"aa","current":"aa","differs":false},
                         {"index":4,"reference":"bb","current":"cc","differs":true}],
                 "events":[{"pcr":4,"index":3,"change":"added","reference":null,
                   "current":{"index":3,"type":"EV_EFI_BOOT_SERVICES_APPLICATION",
                              "sha256":"0123456789abcdef0123","description":"evil-loader"}}]}
                """);
    String text = AttestationCommand.render(a, NOW);
    assertThat(text)
        .containsPattern("Trust: +QUARANTINED")
        .containsPattern("Reason: +PCR 4 differs")
        .containsPattern("Since: +2026-06-01T11:00:00Z \\(1h ago\\)");
    assertThat(text.lines())
        .anySatisfy(l -> assertThat(l).matches("0 +same +aa +-"))
        .anySatisfy(l -> assertThat(l).matches("4 +DIFFERS +bb +cc"))
        .anySatisfy(
            l ->
                assertThat(l)
                    .matches(
                        "4 +3 +added +EV_EFI_BOOT_SERVICES_APPLICATION +- +evil-loader"
                            + " 0123456789ab…"));
  }

  @Test
  void aSoftwareKeyDeviceShowsOnlyItsIdentity() throws Exception {
    JsonNode a =
        Json.mapper()
            .readTree(
                "{\"deviceId\":\"dev-2\",\"identity\":\"software\",\"state\":\"UNVERIFIED\","
                    + "\"pcrs\":[],\"events\":[]}");
    String text = AttestationCommand.render(a, NOW);
    assertThat(text).containsPattern("Identity: +software").doesNotContain("PCR");
  }
}
