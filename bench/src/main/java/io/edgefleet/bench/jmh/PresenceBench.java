package io.edgefleet.bench.jmh;

import io.edgefleet.controller.devices.Presence;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One presence flush after every one of N connected devices sent a heartbeat: the batch upsert of N
 * {@code last_seen} rows into SQLite (WAL, synchronous=NORMAL, the controller's settings). The
 * heartbeats themselves (in memory) happen in the per-invocation setup and are not measured.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class PresenceBench {
  @Param({"10000", "100000"})
  public int devices;

  private BenchDatabase database;
  private BenchDatabase.SteppingClock clock;
  private Presence presence;
  private String[] ids;

  @Setup(Level.Trial)
  public void open() {
    database = new BenchDatabase();
    clock = new BenchDatabase.SteppingClock();
    presence = new Presence(database.db.jdbi(), clock);
    ids = new String[devices];
    for (int i = 0; i < devices; i++) {
      ids[i] = String.format("dev-%016x", i * 2_654_435_761L);
      presence.connected(ids[i]);
    }
    // The table holds every device already: a steady-state flush updates, it does not insert.
    presence.flush();
  }

  @Setup(Level.Invocation)
  public void heartbeats() {
    clock.step();
    for (String id : ids) {
      presence.heartbeat(id);
    }
  }

  @Benchmark
  public int flush() {
    return presence.flush();
  }

  @TearDown(Level.Trial)
  public void close() {
    database.close();
  }
}
