package io.edgefleet.protocol.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AttestTest {
  static Attest quote() {
    return new Attest(
        Attest.QUOTE,
        new byte[34],
        new byte[] {1, 2, 3},
        123456789L,
        7,
        3,
        true,
        0x1122334455667788L,
        List.of(0, 7, 14),
        new byte[32],
        new byte[0],
        new byte[0],
        List.of());
  }

  @Test
  void roundTripsAQuote() {
    Attest a = quote();
    Attest back = Attest.parse(a.marshal());
    assertThat(back.type()).isEqualTo(Attest.QUOTE);
    assertThat(back.extraData()).containsExactly(1, 2, 3);
    assertThat(back.clock()).isEqualTo(123456789L);
    assertThat(back.resetCount()).isEqualTo(7);
    assertThat(back.restartCount()).isEqualTo(3);
    assertThat(back.safe()).isTrue();
    assertThat(back.firmwareVersion()).isEqualTo(0x1122334455667788L);
    assertThat(back.pcrSelection()).containsExactly(0, 7, 14);
    assertThat(back.otherBanks()).isEmpty();
  }

  @Test
  void recordsSelectionsOfOtherBanks() {
    byte[] attest =
        new TpmBuffer.Writer()
            .u32(Attest.MAGIC)
            .u16(Attest.QUOTE)
            .sized(new byte[0])
            .sized(new byte[0])
            .u64(0)
            .u32(0)
            .u32(0)
            .u8(1)
            .u64(0)
            .u32(2)
            .u16(TpmAlg.SHA1)
            .u8(3)
            .bytes(new byte[] {(byte) 0x80, 0, 0})
            .u16(TpmAlg.SHA256)
            .u8(3)
            .bytes(new byte[] {1, 0, 0})
            .sized(new byte[32])
            .toBytes();
    Attest a = Attest.parse(attest);
    assertThat(a.pcrSelection()).containsExactly(0);
    assertThat(a.otherBanks()).containsExactly(TpmAlg.SHA1);
  }

  @Test
  void wrongMagicOrTypeIsRefused() {
    byte[] b = quote().marshal();
    b[0] = 0;
    assertThatThrownBy(() -> Attest.parse(b))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("magic");
    byte[] c = quote().marshal();
    c[5] = 0x14; // TPM_ST_ATTEST_TIME
    assertThatThrownBy(() -> Attest.parse(c))
        .isInstanceOf(TpmFormatException.class)
        .hasMessageContaining("type");
  }

  @Test
  void everyTruncationAndTrailingByteIsRefused() {
    byte[] b = quote().marshal();
    for (int n = 0; n < b.length; n++) {
      byte[] cut = Arrays.copyOf(b, n);
      assertThatThrownBy(() -> Attest.parse(cut)).isInstanceOf(TpmFormatException.class);
    }
    byte[] longer = Arrays.copyOf(b, b.length + 1);
    assertThatThrownBy(() -> Attest.parse(longer)).hasMessageContaining("trailing");
  }

  @Test
  void oversizedFieldsAreRefused() {
    byte[] huge =
        new TpmBuffer.Writer()
            .u32(Attest.MAGIC)
            .u16(Attest.QUOTE)
            .sized(new byte[0])
            .sized(new byte[1000])
            .toBytes();
    assertThatThrownBy(() -> Attest.parse(huge)).hasMessageContaining("extraData");
    byte[] manyBanks =
        new TpmBuffer.Writer()
            .u32(Attest.MAGIC)
            .u16(Attest.QUOTE)
            .sized(new byte[0])
            .sized(new byte[0])
            .u64(0)
            .u32(0)
            .u32(0)
            .u8(1)
            .u64(0)
            .u32(0xffffffffL)
            .toBytes();
    assertThatThrownBy(() -> Attest.parse(manyBanks)).hasMessageContaining("banks");
    byte[] wideSelect =
        new TpmBuffer.Writer()
            .u32(Attest.MAGIC)
            .u16(Attest.QUOTE)
            .sized(new byte[0])
            .sized(new byte[0])
            .u64(0)
            .u32(0)
            .u32(0)
            .u8(1)
            .u64(0)
            .u32(1)
            .u16(TpmAlg.SHA256)
            .u8(200)
            .toBytes();
    assertThatThrownBy(() -> Attest.parse(wideSelect)).hasMessageContaining("selection of 200");
  }

  @Test
  void randomBytesOnlyEverFailAsFormatErrors() {
    Random random = new Random(42);
    byte[] valid = quote().marshal();
    for (int i = 0; i < 20_000; i++) {
      byte[] b = valid.clone();
      for (int k = 0; k < 1 + random.nextInt(4); k++) {
        b[random.nextInt(b.length)] = (byte) random.nextInt();
      }
      try {
        Attest.parse(b);
      } catch (TpmFormatException expected) {
        // fine
      }
    }
  }
}
