package io.edgefleet.e2e.agentupdates;

import io.edgefleet.agent.update.ReleaseArchive;
import io.edgefleet.agent.update.ReleaseKeys;
import io.edgefleet.agent.update.Updater;
import io.edgefleet.protocol.AgentRelease;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executors;

/**
 * The agent's updater in a process of its own, as the running agent of slot a uses it, so a test
 * can kill it -9 in the middle of a download or of staging. Arguments: slots dir, agent state dir,
 * release-keys dir, signed release (JSON file), blob server URL, trial seconds.
 */
public final class StageMain {
  private StageMain() {}

  public static void main(String[] args) throws Exception {
    Path slots = Path.of(args[0]);
    AgentRelease release =
        Json.mapper().readValue(Files.readString(Path.of(args[3])), AgentRelease.class);
    Updater u =
        new Updater(
            new Updater.Options(
                slots,
                new ReleaseKeys(Path.of(args[1]), Path.of(args[2])),
                Duration.ofSeconds(Long.parseLong(args[5])),
                ReleaseArchive.Limits.defaults(),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1),
                Duration.ofSeconds(5),
                System.getProperty("os.arch"),
                "1.0.0",
                "a"),
            new RangeDownloader(args[4]),
            Executors.newSingleThreadScheduledExecutor(),
            Clock.systemUTC(),
            System.out,
            (kind, severity, message) -> System.out.println(kind + ": " + message),
            () -> System.exit(0));
    u.connected(message -> true, null);
    u.applied(
        new DesiredState("dev", 1, Instant.now(), List.of(), List.of(), List.of(), null, release));
    Thread.currentThread().join();
  }
}
