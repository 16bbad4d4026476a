package io.edgefleet.testkit;

import io.edgefleet.controller.Controller;
import io.edgefleet.controller.ControllerConfig;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/**
 * A real controller in the test JVM on a free loopback port, with a 1 s heartbeat so presence
 * changes are observable quickly.
 */
public final class TestController implements AutoCloseable {
  public static final Duration HEARTBEAT = Duration.ofSeconds(1);

  private final Controller controller;
  private final AdminClient admin;

  private TestController(Controller controller) {
    this.controller = controller;
    this.admin =
        new AdminClient(
            controller.url(),
            controller.adminToken().orElseThrow(),
            controller.pki().caFingerprint());
  }

  public static ControllerConfig config(Path dataDir) {
    return ControllerConfig.defaults(dataDir)
        .withListen("127.0.0.1", 0)
        .withHeartbeat(HEARTBEAT)
        .withPresenceFlush(Duration.ofMillis(200))
        .withRolloutTick(Duration.ofMillis(200))
        // Tests enroll whole fleets from one loopback address at once.
        .withEnrollmentsPerAddress(100_000);
  }

  public static TestController start(Path dataDir) {
    return start(config(dataDir));
  }

  public static TestController start(ControllerConfig config) {
    return start(config, Clock.systemUTC());
  }

  /** A controller whose rollouts, presence and certificates run on this clock. */
  public static TestController start(ControllerConfig config, Clock clock) {
    return new TestController(Controller.start(config, clock));
  }

  /** A controller whose app catalog also holds {@code moreApps}. */
  public static TestController start(
      ControllerConfig config, io.edgefleet.controller.desired.AppCatalog moreApps) {
    return new TestController(Controller.start(config, Clock.systemUTC(), moreApps));
  }

  /** A controller that also asks {@code secretPolicy} before it hands a secret to a device. */
  public static TestController start(
      ControllerConfig config, io.edgefleet.controller.secrets.SecretDeliveryPolicy secretPolicy) {
    return new TestController(Controller.start(config, Clock.systemUTC(), secretPolicy));
  }

  public Controller controller() {
    return controller;
  }

  public AdminClient admin() {
    return admin;
  }

  public String url() {
    return controller.url();
  }

  public String caFingerprint() {
    return controller.pki().caFingerprint();
  }

  /** Creates an onboarding token through the service and returns its secret. */
  public String token(Map<String, String> tags, Integer maxUses, boolean requireApproval) {
    return controller
        .onboarding()
        .create(
            new OnboardingTokens.CreateRequest(null, tags, maxUses, null, requireApproval, 100_000),
            "test")
        .token();
  }

  @Override
  public void close() {
    admin.close();
    controller.close();
  }
}
