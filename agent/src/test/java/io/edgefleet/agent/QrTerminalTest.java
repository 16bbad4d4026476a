package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.nayuki.qrcodegen.QrCode;
import org.junit.jupiter.api.Test;

class QrTerminalTest {
  @Test
  void everyModuleOfTheSymbolIsDrawnTwoRowsPerLine() {
    String url = "https://ctl.example:7443/console/approve?code=K7PQ-4QXM";
    QrCode qr = QrCode.encodeText(url, QrCode.Ecc.LOW);
    String[] lines = QrTerminal.render(url).split("\n");
    int side = qr.size + 4;
    assertThat(lines).hasSize((side + 1) / 2);
    assertThat(lines).allSatisfy(l -> assertThat(l).hasSize(side));
    // Decode the half blocks back into modules and compare with the symbol.
    for (int y = 0; y < qr.size; y++) {
      for (int x = 0; x < qr.size; x++) {
        char c = lines[(y + 2) / 2].charAt(x + 2);
        boolean top = (y + 2) % 2 == 0;
        boolean light = top ? (c == '\u2588' || c == '\u2580') : (c == '\u2588' || c == '\u2584');
        assertThat(!light).as("module %d,%d", x, y).isEqualTo(qr.getModule(x, y));
      }
    }
  }
}
