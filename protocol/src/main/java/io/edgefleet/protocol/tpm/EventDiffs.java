package io.edgefleet.protocol.tpm;

import io.edgefleet.protocol.tpm.EventLog.Event;
import io.edgefleet.protocol.tpm.EventLog.EventDiff;
import java.util.Arrays;
import java.util.List;

/**
 * The event-by-event difference of one PCR: a longest common subsequence of (type, digest), then
 * each run of differences paired up as changed, the rest added or removed. Above {@link #MAX_CELLS}
 * the table would be too large and events are compared position by position instead.
 */
final class EventDiffs {
  static final long MAX_CELLS = 1_000_000;

  private EventDiffs() {}

  static void diff(int pcr, List<Event> ref, List<Event> now, List<EventDiff> out) {
    int n = ref.size();
    int m = now.size();
    if ((long) (n + 1) * (m + 1) > MAX_CELLS) {
      run(pcr, ref, 0, n, now, 0, m, out);
      return;
    }
    int[][] lcs = new int[n + 1][m + 1];
    for (int i = n - 1; i >= 0; i--) {
      for (int j = m - 1; j >= 0; j--) {
        lcs[i][j] =
            same(ref.get(i), now.get(j))
                ? lcs[i + 1][j + 1] + 1
                : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    int i = 0;
    int j = 0;
    int runI = 0;
    int runJ = 0;
    while (i < n || j < m) {
      if (i < n && j < m && same(ref.get(i), now.get(j))) {
        run(pcr, ref, runI, i, now, runJ, j, out);
        i++;
        j++;
        runI = i;
        runJ = j;
      } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
        j++;
      } else {
        i++;
      }
    }
    run(pcr, ref, runI, n, now, runJ, m, out);
  }

  /** A run of differing events: pairs become changed, the rest added or removed. */
  private static void run(
      int pcr,
      List<Event> ref,
      int refFrom,
      int refTo,
      List<Event> now,
      int nowFrom,
      int nowTo,
      List<EventDiff> out) {
    int pairs = Math.min(refTo - refFrom, nowTo - nowFrom);
    for (int k = 0; k < pairs; k++) {
      Event r = ref.get(refFrom + k);
      Event c = now.get(nowFrom + k);
      if (!same(r, c)) {
        out.add(new EventDiff(pcr, c.index(), EventDiff.CHANGED, r, c));
      }
    }
    for (int k = refFrom + pairs; k < refTo; k++) {
      Event r = ref.get(k);
      out.add(new EventDiff(pcr, r.index(), EventDiff.REMOVED, r, null));
    }
    for (int k = nowFrom + pairs; k < nowTo; k++) {
      Event c = now.get(k);
      out.add(new EventDiff(pcr, c.index(), EventDiff.ADDED, null, c));
    }
  }

  private static boolean same(Event a, Event b) {
    return a.type() == b.type() && Arrays.equals(a.sha256(), b.sha256());
  }
}
