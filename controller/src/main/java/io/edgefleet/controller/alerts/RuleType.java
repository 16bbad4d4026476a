package io.edgefleet.controller.alerts;

import com.fasterxml.jackson.annotation.JsonValue;
import io.edgefleet.controller.common.ControllerException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** What an alert rule watches. Each type reads one cheap source per evaluation. */
public enum RuleType {
  /** An enrolled device has been {@code OFFLINE} longer than {@code for}. */
  DEVICE_OFFLINE("device-offline"),
  /** An app (optionally one named app) is {@code FAILED} on a device. */
  APP_FAILED("app-failed"),
  /** A device's latest disk usage ({@code disk.<mount>.used.percent}) is at or above percent. */
  DISK_USAGE("disk-usage"),
  /** A device's certificate expires within {@code within}. */
  CERTIFICATE_EXPIRING("certificate-expiring"),
  /** A rollout (optionally of one app) is {@code PAUSED}. */
  ROLLOUT_PAUSED("rollout-paused"),
  /** A device with a TPM is {@code QUARANTINED}: its measured boot differs from its reference. */
  DEVICE_QUARANTINED("device-quarantined"),
  /**
   * A K3s cluster (optionally of those whose labels match the selector) is {@code DEGRADED}: below
   * its minimum or with etcd quorum at risk.
   */
  CLUSTER_DEGRADED("cluster-degraded");

  private final String id;

  RuleType(String id) {
    this.id = id;
  }

  @JsonValue
  public String id() {
    return id;
  }

  /** Whether the rule is about devices (and so takes a device selector). */
  public boolean aboutDevices() {
    return this != ROLLOUT_PAUSED && this != CLUSTER_DEGRADED;
  }

  /**
   * The type named {@code text} ({@code device-offline}, also {@code DEVICE_OFFLINE}).
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming the known types
   */
  public static RuleType parse(String text) {
    if (text == null || text.isBlank()) {
      throw ControllerException.invalid("type is required: one of " + known());
    }
    String t = text.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    for (RuleType r : values()) {
      if (r.id.equals(t)) {
        return r;
      }
    }
    throw ControllerException.invalid("unknown rule type '" + text + "': use one of " + known());
  }

  static String known() {
    return Arrays.stream(values()).map(RuleType::id).collect(Collectors.joining(", "));
  }
}
