package io.edgefleet.controller.secrets;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceRecord;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.SealedBox;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.util.Base64;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands one secret to one device, sealed to the key of the certificate it connected with ({@link
 * SealedBox}, bound to the device, the secret's name and version): only to an active device the
 * secret targets, at the version the secret is at, and never to a device the {@link
 * SecretDeliveryPolicy} refuses. A decommissioned device or revoked certificate never gets this far
 * (the device routes refuse it first). Thread-safe.
 */
public final class SecretDelivery {
  private static final Logger LOG = LoggerFactory.getLogger(SecretDelivery.class);

  private final Jdbi jdbi;
  private final DeviceStore devices;
  private final Secrets secrets;
  private final SecretDeliveryPolicy policy;
  private final FetchBudget budget;

  public SecretDelivery(
      Jdbi jdbi,
      java.time.Clock clock,
      DeviceStore devices,
      Secrets secrets,
      SecretDeliveryPolicy policy) {
    this.budget = new FetchBudget(clock);
    this.jdbi = jdbi;
    this.devices = devices;
    this.secrets = secrets;
    this.policy = policy;
  }

  /**
   * The secret sealed for this device.
   *
   * @param deviceKey the public key of the certificate the device presented
   * @throws ControllerException {@code RATE_LIMITED}, {@code SECRET_DELIVERY_REFUSED}, {@code
   *     SECRET_NOT_TARGETED} or {@code SECRET_VERSION_GONE}
   */
  public DeviceSecret deliver(String deviceId, PublicKey deviceKey, String name, long version) {
    budget.take(deviceId);
    Optional<String> refusal = policy.refusal(deviceId);
    if (refusal.isPresent()) {
      LOG.info("secret {} refused to device {}: {}", name, deviceId, refusal.get());
      throw new ControllerException(
          ErrorCode.SECRET_DELIVERY_REFUSED,
          "secrets are not delivered to device " + deviceId + " now: " + refusal.get());
    }
    ECPublicKey ec = sealingKey(deviceKey);
    DeviceRecord device =
        jdbi.withHandle(h -> devices.byId(h, deviceId))
            .filter(d -> d.lifecycle() == DeviceRecord.Lifecycle.ACTIVE)
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.SECRET_DELIVERY_REFUSED,
                        "device " + deviceId + " is not active"));
    Secrets.Opened secret =
        secrets
            .open(name)
            .filter(s -> s.target().matches(device.tags()))
            .orElseThrow(
                () ->
                    new ControllerException(
                        ErrorCode.SECRET_NOT_TARGETED,
                        "no secret " + name + " is meant for device " + deviceId));
    if (secret.version() != version) {
      throw new ControllerException(
          ErrorCode.SECRET_VERSION_GONE,
          "secret "
              + name
              + " is at version "
              + secret.version()
              + ", not "
              + version
              + "; the next desired state references the current version");
    }
    return seal(ec, deviceId, name, secret.version(), secret.namespace(), secret.data());
  }

  /**
   * Seals {@code data} (keys to base64 values) to one device's key, bound to the device, the name
   * and the version, the way every secret reaches a device. Other features that hand a device a
   * secret value (a cluster's join token) use this too.
   *
   * @throws ControllerException {@code SECRET_DELIVERY_REFUSED} when the key is no P-256 key
   */
  public static DeviceSecret sealTo(
      PublicKey deviceKey,
      String deviceId,
      String name,
      long version,
      String namespace,
      java.util.Map<String, String> data) {
    return seal(sealingKey(deviceKey), deviceId, name, version, namespace, data);
  }

  private static ECPublicKey sealingKey(PublicKey deviceKey) {
    if (!(deviceKey instanceof ECPublicKey ec)) {
      throw new ControllerException(
          ErrorCode.SECRET_DELIVERY_REFUSED,
          "secrets are sealed to a P-256 device key; this device's certificate holds "
              + (deviceKey == null ? "none" : deviceKey.getAlgorithm() + " key"));
    }
    return ec;
  }

  private static DeviceSecret seal(
      ECPublicKey ec,
      String deviceId,
      String name,
      long version,
      String namespace,
      java.util.Map<String, String> data) {
    byte[] plaintext = Json.writeBytes(data);
    byte[] sealed = SealedBox.seal(ec, plaintext, SealedBox.secretAad(deviceId, name, version));
    java.util.Arrays.fill(plaintext, (byte) 0);
    return new DeviceSecret(name, version, namespace, Base64.getEncoder().encodeToString(sealed));
  }
}
