package io.edgefleet.controller.api;

import java.security.cert.X509Certificate;
import org.eclipse.jetty.websocket.core.FrameHandler;

/**
 * The agents' side of the listener: who may use a device route or open the agent socket, and the
 * endpoint serving an admitted device's socket.
 */
public interface DeviceSockets {

  /**
   * Decides whether the presented client certificate may connect.
   *
   * @return the device and the certificate it presented
   * @throws io.edgefleet.controller.common.ControllerException with a code the agent acts on
   */
  Admission admit(X509Certificate[] peerCertificates);

  /** The endpoint serving one admitted device's socket. */
  FrameHandler endpoint(String deviceId);

  /**
   * A device that presented a valid, current certificate.
   *
   * @param publicKey the key of that certificate: what is sealed to the device goes to this key
   */
  record Admission(String deviceId, String certificateSerial, java.security.PublicKey publicKey) {
    public Admission(String deviceId, String certificateSerial) {
      this(deviceId, certificateSerial, null);
    }
  }
}
