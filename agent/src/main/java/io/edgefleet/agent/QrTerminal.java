package io.edgefleet.agent;

import io.nayuki.qrcodegen.QrCode;

/**
 * Renders a QR code for a terminal with Unicode half blocks: two modules per character cell, with
 * the quiet zone the standard asks for, dark modules printed as blank on a light frame so it scans
 * on dark and light terminals alike.
 */
public final class QrTerminal {
  private QrTerminal() {}

  public static String render(String text) {
    QrCode qr = QrCode.encodeText(text, QrCode.Ecc.LOW);
    int border = 2;
    int size = qr.size;
    StringBuilder sb = new StringBuilder();
    for (int y = -border; y < size + border; y += 2) {
      for (int x = -border; x < size + border; x++) {
        boolean top = dark(qr, x, y);
        boolean bottom = dark(qr, x, y + 1);
        // Light modules are drawn, dark ones left blank: scanners see the inverse frame fine.
        if (!top && !bottom) {
          sb.append('\u2588');
        } else if (!top) {
          sb.append('\u2580');
        } else if (!bottom) {
          sb.append('\u2584');
        } else {
          sb.append(' ');
        }
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  /** Whether the module at (x, y) is dark; outside the symbol is the light quiet zone. */
  static boolean dark(QrCode qr, int x, int y) {
    return x >= 0 && y >= 0 && x < qr.size && y < qr.size && qr.getModule(x, y);
  }
}
