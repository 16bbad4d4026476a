-- Telemetry from the agents' outboxes. Events join the device's event log in the order they
-- happened at the device (seq); metric summaries are kept for a short window only (they are
-- exposed to Prometheus for anything longer).

ALTER TABLE device_events ADD COLUMN seq BIGINT;
ALTER TABLE device_events ADD COLUMN severity VARCHAR(10);
ALTER TABLE device_events ADD COLUMN app VARCHAR(200);
ALTER TABLE device_events ADD COLUMN received_at BIGINT;
-- Outbox records are stored once per (device, seq), however often a device resends them.
CREATE UNIQUE INDEX device_events_seq ON device_events (device_id, seq);
CREATE INDEX device_events_at ON device_events (at);

-- Metric summaries per device and window; metrics is JSON: name -> {min, max, mean, last, count}.
CREATE TABLE device_metrics (
  device_id    VARCHAR(40)  NOT NULL,
  seq          BIGINT       NOT NULL,
  from_at      BIGINT       NOT NULL,
  at           BIGINT       NOT NULL,
  metrics      TEXT         NOT NULL,
  received_at  BIGINT       NOT NULL,
  PRIMARY KEY (device_id, seq)
);
CREATE INDEX device_metrics_at ON device_metrics (device_id, at);
