package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Public areas a real swtpm answered with (read by the device's TPM code; the EK's name also
 * checked with tpm2_readpublic): they parse, marshal back to the same bytes, and give the name the
 * TPM gave.
 */
class TpmPublicTest {
  private static final HexFormat HEX = HexFormat.of();

  private static Properties keys() throws Exception {
    Properties p = new Properties();
    try (InputStream in = TpmPublicTest.class.getResourceAsStream("/tpm/swtpm-keys.properties")) {
      p.load(in);
    }
    return p;
  }

  @ParameterizedTest
  @ValueSource(strings = {"ek", "ak", "device"})
  void parseMarshalRoundTripAndTheTpmsName(String key) throws Exception {
    Properties p = keys();
    byte[] area = HEX.parseHex(p.getProperty(key + ".public"));
    TpmPublic parsed = TpmPublic.parse(area);
    assertThat(parsed.marshal()).isEqualTo(area);
    assertThat(TpmPublic.parseSized(parsed.marshalSized())).isEqualTo(parsed);
    assertThat(HEX.formatHex(parsed.name())).isEqualTo(p.getProperty(key + ".name"));
  }

  @Test
  void theEkIsTheTcgTemplateWithItsModulus() throws Exception {
    TpmPublic ek = TpmPublic.parse(HEX.parseHex(keys().getProperty("ek.public")));
    TpmPublic template = TpmPublic.rsaEkTemplate();
    assertThat(ek.attributes()).isEqualTo(template.attributes());
    assertThat(ek.authPolicy()).isEqualTo(TpmPublic.EK_POLICY);
    assertThat(ek.unique()).hasSize(256);
    assertThat(((RSAPublicKey) ek.toPublicKey()).getModulus().bitLength()).isEqualTo(2048);
    assertThat(ek.holds(ek.toPublicKey())).isTrue();
  }

  @Test
  void theAttestationKeyIsARestrictedP256SigningKey() throws Exception {
    TpmPublic ak = TpmPublic.parse(HEX.parseHex(keys().getProperty("ak.public")));
    assertThat(ak.has(TpmAlg.RESTRICTED | TpmAlg.SIGN_ENCRYPT | TpmAlg.FIXED_TPM)).isTrue();
    assertThat(ak.scheme()).isEqualTo(TpmAlg.ECDSA);
    assertThat(ak.toPublicKey()).isInstanceOf(ECPublicKey.class);
  }

  @Test
  void aTruncatedOrPaddedAreaIsRefused() throws Exception {
    byte[] area = HEX.parseHex(keys().getProperty("ek.public"));
    assertThatThrownBy(() -> TpmPublic.parse(Arrays.copyOf(area, area.length - 1)))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("truncated");
    assertThatThrownBy(() -> TpmPublic.parse(Arrays.copyOf(area, area.length + 1)))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("trailing");
  }
}
