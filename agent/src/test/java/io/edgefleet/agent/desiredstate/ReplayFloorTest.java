package io.edgefleet.agent.desiredstate;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayFloorTest {
  @TempDir Path dir;

  @Test
  void aRaisedFloorIsReadBackForItsOwnEnrollmentOnly() throws Exception {
    ReplayFloor floor = new ReplayFloor(dir);
    assertThat(floor.load("dev-1")).hasValue(0);
    floor.raise("dev-1", 42);
    assertThat(new ReplayFloor(dir).load("dev-1")).hasValue(42);
    assertThat(new ReplayFloor(dir).load("dev-2")).as("another enrollment").hasValue(0);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(floor.file())))
        .isEqualTo("rw-------");
  }

  @Test
  void anUnreadableFloorIsReportedAsSuchNotAsZero() throws Exception {
    Files.writeString(dir.resolve(ReplayFloor.FILE), "{\"deviceId\":\"dev-1\",\"genera");
    assertThat(new ReplayFloor(dir).load("dev-1")).isEmpty();
    Files.writeString(dir.resolve(ReplayFloor.FILE), "{\"deviceId\":\"dev-1\",\"generation\":-3}");
    assertThat(new ReplayFloor(dir).load("dev-1")).isEmpty();
  }
}
