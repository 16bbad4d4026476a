package io.edgefleet.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/** Messages the controller sends to an agent over its WebSocket. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
@JsonSubTypes({
  @JsonSubTypes.Type(value = ControllerMessage.Welcome.class, name = "welcome"),
  @JsonSubTypes.Type(value = ControllerMessage.Ack.class, name = "ack"),
  @JsonSubTypes.Type(value = ControllerMessage.Nudge.class, name = "nudge"),
  @JsonSubTypes.Type(value = ControllerMessage.TelemetryAck.class, name = "tack"),
  @JsonSubTypes.Type(value = ControllerMessage.LogsRequest.class, name = "logs"),
  @JsonSubTypes.Type(value = ControllerMessage.LogsCancel.class, name = "logs-stop"),
  @JsonSubTypes.Type(value = ControllerMessage.AttestationChallenge.class, name = "attest"),
  @JsonSubTypes.Type(value = ControllerMessage.TrustState.class, name = "trust")
})
public sealed interface ControllerMessage {

  /**
   * Answer to {@link AgentMessage.Hello}: who the agent is, how often to check in and how often to
   * send metric summaries ({@code telemetrySeconds}; 0 from an older controller means the default).
   *
   * @param catchUp true when the controller read the generation in the hello and, if the agent is
   *     behind, sends the newer document right after this welcome (a {@link Nudge}); the agent then
   *     needs no request of its own. False from older controllers: fetch if {@code generation}
   *     differs.
   * @param telemetryEncodings the encodings of telemetry batches the controller takes besides the
   *     JSON {@code tel} message, e.g. {@link CompactTelemetry#ENCODING}; empty from an older
   *     controller, which takes JSON only
   */
  record Welcome(
      String deviceId,
      int heartbeatSeconds,
      long generation,
      int telemetrySeconds,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean catchUp,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> telemetryEncodings)
      implements ControllerMessage {
    public Welcome {
      telemetryEncodings = telemetryEncodings == null ? List.of() : List.copyOf(telemetryEncodings);
    }

    public Welcome(String deviceId, int heartbeatSeconds, long generation, int telemetrySeconds) {
      this(deviceId, heartbeatSeconds, generation, telemetrySeconds, false, List.of());
    }

    public Welcome(String deviceId, int heartbeatSeconds, long generation) {
      this(deviceId, heartbeatSeconds, generation, 0, false, List.of());
    }
  }

  /**
   * A newer desired state exists. When the controller has it at hand, {@code desired} is the signed
   * document itself and {@code bundles} holds the bundles it newly references that are small
   * (digest → base64 of the gzip of the bundle), so the agent needs no request at all. The agent
   * verifies an inline document and inline bundles exactly as fetched ones (signature, device,
   * generation, content digest); what is missing it fetches. A nudge without {@code desired} (or
   * from an older controller) means: fetch {@code GET /device/v1/desired}.
   */
  record Nudge(
      long generation,
      SignedDesiredState desired,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) Map<String, String> bundles)
      implements ControllerMessage {
    /** Largest gzip of one bundle sent inline; larger ones are fetched. */
    public static final int MAX_INLINE_BUNDLE_BYTES = 16 * 1024;

    /** Largest gzip of all inline bundles of one nudge together. */
    public static final int MAX_INLINE_TOTAL_BYTES = 48 * 1024;

    public Nudge {
      bundles = bundles == null ? Map.of() : Map.copyOf(bundles);
    }

    public Nudge(long generation) {
      this(generation, null, Map.of());
    }

    /**
     * The content of the inline bundle {@code digest} of {@code bundles}, or null if there is none
     * or it is not base64 gzip of at most {@code maxBytes} (the device then fetches it). The caller
     * still checks the content against its digest.
     */
    public static byte[] inlineBundle(Map<String, String> bundles, String digest, int maxBytes) {
      String packed = bundles.get(digest);
      if (packed == null) {
        return null;
      }
      try {
        return Gzip.inflate(Base64.getDecoder().decode(packed), maxBytes);
      } catch (java.io.IOException | IllegalArgumentException e) {
        return null;
      }
    }
  }

  /**
   * Answer to a heartbeat. Its arrival is how an agent knows the link is alive even when TCP has
   * not noticed a dead peer yet.
   */
  record Ack() implements ControllerMessage {}

  /** The controller stored every outbox record up to and including {@code upTo}. */
  record TelemetryAck(long upTo) implements ControllerMessage {}

  /**
   * Send the last {@code tail} log lines of an app's workloads (from the agent's ring of recent
   * lines when the runtime cannot be asked), then, with {@code follow}, new lines as they come,
   * until {@link LogsCancel}.
   */
  record LogsRequest(String id, String app, int tail, boolean follow)
      implements ControllerMessage {}

  /** Stop the log stream {@code id}. */
  record LogsCancel(String id) implements ControllerMessage {}

  /**
   * Quote the SHA-256 PCRs {@code pcrs} over {@code nonce} with the attestation key and answer with
   * {@link AgentMessage.AttestationAnswer} {@code id}. Sent after each connect and every few hours
   * to devices enrolled with a TPM.
   *
   * @param nonce base64 of a fresh random nonce (32 bytes)
   */
  record AttestationChallenge(String id, String nonce, List<Integer> pcrs)
      implements ControllerMessage {
    public AttestationChallenge {
      pcrs = pcrs == null ? List.of() : List.copyOf(pcrs);
    }
  }

  /**
   * The device's trust as the controller judges it now; sent after each connect and on every
   * change. On {@code QUARANTINED} the device withdraws the secrets it holds and stops every app
   * not marked to keep running in quarantine, until a later {@code TRUSTED}.
   *
   * @param state {@code TRUSTED}, {@code QUARANTINED} or {@code UNVERIFIED}
   * @param reason why, for a quarantine (which PCR or event changed); null otherwise
   */
  record TrustState(String state, @JsonInclude(JsonInclude.Include.NON_NULL) String reason)
      implements ControllerMessage {
    public static final String TRUSTED = "TRUSTED";
    public static final String QUARANTINED = "QUARANTINED";
    public static final String UNVERIFIED = "UNVERIFIED";

    public boolean quarantined() {
      return QUARANTINED.equals(state);
    }
  }
}
