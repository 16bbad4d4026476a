-- Honest health: the status each device is in and since when, so that "since" survives a restart,
-- and the controller's own events (health transitions, app phase changes) for the unified event
-- log. Written once for SQLite and PostgreSQL: portable types, epoch millis.

-- The last status the health engine persisted for each device. Written only when it changes.
-- reachable_since: since when the device has been ONLINE, DEGRADED or ERROR without a break (NULL
-- while it is not reachable); apps are judged late only after they had their chance.
CREATE TABLE device_health (
  device_id        VARCHAR(40)  PRIMARY KEY,
  status           VARCHAR(20)  NOT NULL,
  reason           TEXT         NOT NULL,
  since            BIGINT       NOT NULL,
  reachable_since  BIGINT,
  updated_at       BIGINT       NOT NULL
);

-- What the controller saw happen to a device: source 'health' (a status transition) or 'app' (an
-- app's reported phase or revision changed). at is when the controller saw it.
CREATE TABLE fleet_events (
  id         VARCHAR(40)   PRIMARY KEY,
  device_id  VARCHAR(40)   NOT NULL,
  source     VARCHAR(10)   NOT NULL,
  at         BIGINT        NOT NULL,
  kind       VARCHAR(100)  NOT NULL,
  severity   VARCHAR(10)   NOT NULL,
  app        VARCHAR(200),
  message    TEXT          NOT NULL
);
CREATE INDEX fleet_events_at ON fleet_events (at);
CREATE INDEX fleet_events_device ON fleet_events (device_id, at);

-- The event log follows each source by the time the controller recorded a row: device events by
-- when they were received (older rows have only the device's time), the others by their time.
CREATE INDEX device_events_recorded ON device_events ((COALESCE(received_at, at)));
CREATE INDEX rollout_events_at ON rollout_events (at);
