package io.edgefleet.launcher;

import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Clock;

/**
 * A throwaway controller for the CLI's training run ({@link CliTraining}), in a process of its own
 * so its classes stay out of the CLI's cache: it serves on an ephemeral loopback port from the
 * given data directory, prints the path of its CLI config file, and stops when its standard input
 * closes, which is when the training run ends or dies.
 */
final class TrainingController {
  private TrainingController() {}

  public static void main(String[] args) throws IOException {
    try (Controller controller =
        Controller.start(
            ControllerConfig.defaults(Path.of(args[0])).withListen("127.0.0.1", 0),
            Clock.systemUTC())) {
      System.out.println(controller.cliConfig());
      System.out.flush();
      InputStream in = System.in;
      while (in.read() >= 0) {
        // Nothing is sent; end of input is the signal to stop.
      }
    }
    System.exit(0);
  }
}
