package io.edgefleet.controller.downloads;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.time.LocalTime;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A daily download window {@code HH:MM-HH:MM} in a policy's time zone: from the first time
 * (inclusive) to the second (exclusive). A window whose end is before its start wraps past midnight
 * ({@code 22:00-06:00}); start and end may not be equal (a window of no time, or of the whole day,
 * is better said by having no windows). {@code 24:00} as the end means midnight.
 *
 * @param start minutes after midnight, 0 to 1439
 * @param end minutes after midnight, 0 to 1440
 */
record DownloadWindow(int start, int end) {
  private static final Pattern FORM = Pattern.compile("(\\d{2}):(\\d{2})-(\\d{2}):(\\d{2})");

  /**
   * Parses one window.
   *
   * @throws ControllerException {@code DOWNLOAD_POLICY_INVALID} naming {@code field} when it is not
   *     a window
   */
  static DownloadWindow parse(String field, String text) {
    Matcher m = FORM.matcher(text == null ? "" : text.strip());
    if (!m.matches()) {
      throw invalid(field, text, "write a window as HH:MM-HH:MM, e.g. 22:00-06:00");
    }
    int sh = Integer.parseInt(m.group(1));
    int sm = Integer.parseInt(m.group(2));
    int eh = Integer.parseInt(m.group(3));
    int em = Integer.parseInt(m.group(4));
    if (sh > 23 || sm > 59 || em > 59 || eh > 24 || (eh == 24 && em != 0)) {
      throw invalid(field, text, "hours run from 00 to 23 (24:00 only as an end), minutes to 59");
    }
    int start = sh * 60 + sm;
    int end = eh * 60 + em;
    if (start == end % 1440) {
      throw invalid(
          field,
          text,
          "start and end are the same time; leave the windows out to allow downloads all day");
    }
    return new DownloadWindow(start, end);
  }

  private static ControllerException invalid(String field, String text, String advice) {
    return new ControllerException(
        ErrorCode.DOWNLOAD_POLICY_INVALID, field + ": '" + text + "' is not a window: " + advice);
  }

  /** Whether {@code time} (in the policy's zone) is inside this window. */
  boolean contains(LocalTime time) {
    int t = time.getHour() * 60 + time.getMinute();
    return start < end ? t >= start && t < end : t >= start || t < end;
  }

  /** The canonical spelling, {@code HH:MM-HH:MM}. */
  @Override
  public String toString() {
    return String.format("%02d:%02d-%02d:%02d", start / 60, start % 60, end / 60, end % 60);
  }
}
