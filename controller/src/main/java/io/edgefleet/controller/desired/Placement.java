package io.edgefleet.controller.desired;

import io.edgefleet.protocol.DeviceFacts;
import java.util.List;
import java.util.Optional;

/**
 * Whether a device can run an app's kind of workload, and if not, the sentence its status shows. A
 * device that cannot run it never gets the app: it is "not placed" there, which is neither a
 * failure nor pending.
 */
public final class Placement {
  /** How an app's state on a device that cannot run it starts. */
  public static final String NOT_PLACED = "not placed: ";

  private Placement() {}

  /**
   * Why a device with these facts cannot run {@code runtime}, or empty when it can.
   *
   * @param facts what the device reported; null if it reported nothing yet (taken as an agent that
   *     runs Kubernetes apps only)
   * @param runtime {@code container}, {@code vm}, or null / {@code kubernetes} for Kubernetes
   *     objects
   */
  public static Optional<String> refusal(DeviceFacts facts, String runtime) {
    String needed = runtime == null ? DeviceFacts.RUNTIME_KUBERNETES : runtime;
    List<String> runtimes = facts == null ? List.of() : facts.runtimes();
    boolean can =
        facts == null ? DeviceFacts.RUNTIME_KUBERNETES.equals(needed) : facts.canRun(needed);
    if (can) {
      return Optional.empty();
    }
    String has =
        runtimes.isEmpty()
            ? "its agent reports no runtimes, so it runs Kubernetes apps only"
            : "it reports: " + String.join(", ", runtimes);
    return Optional.of(NOT_PLACED + "this device has no " + describe(needed) + " (" + has + ")");
  }

  private static String describe(String runtime) {
    return switch (runtime) {
      case DeviceFacts.RUNTIME_CONTAINER -> "container runtime";
      case DeviceFacts.RUNTIME_VM -> "virtual machine runtime";
      case DeviceFacts.RUNTIME_KUBERNETES -> "Kubernetes";
      default -> "'" + runtime + "' runtime";
    };
  }
}
