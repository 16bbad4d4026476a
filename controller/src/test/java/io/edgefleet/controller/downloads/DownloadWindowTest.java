package io.edgefleet.controller.downloads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.time.LocalTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DownloadWindowTest {

  @ParameterizedTest
  @CsvSource({
    "01:00-05:00, 00:59, false",
    "01:00-05:00, 01:00, true",
    "01:00-05:00, 04:59, true",
    "01:00-05:00, 05:00, false",
    "22:00-06:00, 21:59, false",
    "22:00-06:00, 22:00, true",
    "22:00-06:00, 23:59, true",
    "22:00-06:00, 00:00, true",
    "22:00-06:00, 05:59, true",
    "22:00-06:00, 06:00, false",
    "18:00-24:00, 23:59, true",
    "18:00-24:00, 00:00, false",
  })
  void aWindowHoldsItsStartNotItsEndAndMayWrapPastMidnight(
      String window, String time, boolean inside) {
    assertThat(DownloadWindow.parse("windows[0]", window).contains(LocalTime.parse(time)))
        .isEqualTo(inside);
  }

  @Test
  void theCanonicalSpellingIsWhatWasParsed() {
    assertThat(DownloadWindow.parse("w", " 22:00-06:30 ").toString()).isEqualTo("22:00-06:30");
    assertThat(DownloadWindow.parse("w", "18:00-24:00").toString()).isEqualTo("18:00-24:00");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "22-06",
        "2:00-6:00",
        "22:00 - 06:00",
        "25:00-06:00",
        "22:60-06:00",
        "22:00-24:30",
        "24:00-06:00",
        "06:00-06:00",
        "00:00-24:00"
      })
  void malformedOrEmptyWindowsAreRefusedNamingTheField(String text) {
    assertThatThrownBy(() -> DownloadWindow.parse("windows[2]", text))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DOWNLOAD_POLICY_INVALID))
        .hasMessageStartingWith("windows[2]: '" + text + "' is not a window");
  }
}
