-- Alerting: rules evaluated by the controller, webhook receivers, the alerts themselves and an
-- outbox of notifications. Written once for SQLite and PostgreSQL: portable types, epoch millis.

-- What to watch. type: device-offline, app-failed, disk-usage, certificate-expiring,
-- rollout-paused. for_ms: how long the condition must hold; within_ms: how close a certificate's
-- expiry may come; receivers: JSON list of receiver names (empty: every receiver).
CREATE TABLE alert_rules (
  id                  VARCHAR(40)       PRIMARY KEY,
  name                VARCHAR(63)       NOT NULL UNIQUE,
  type                VARCHAR(40)       NOT NULL,
  selector            TEXT              NOT NULL,
  app                 VARCHAR(63),
  mount               VARCHAR(200),
  for_ms              BIGINT            NOT NULL,
  within_ms           BIGINT,
  percent             DOUBLE PRECISION,
  severity            VARCHAR(10)       NOT NULL,
  receivers           TEXT              NOT NULL,
  repeat_ms           BIGINT,
  created_by          VARCHAR(200)      NOT NULL,
  created_at          BIGINT            NOT NULL
);

-- Where notifications go. url is sealed (it often carries a secret, as Slack's do); ca_pem is an
-- extra CA, on top of the JDK's, that the receiver's HTTPS certificate may chain to.
CREATE TABLE alert_receivers (
  id          VARCHAR(40)   PRIMARY KEY,
  name        VARCHAR(63)   NOT NULL UNIQUE,
  format      VARCHAR(20)   NOT NULL,
  url_sealed  TEXT          NOT NULL,
  url_hint    VARCHAR(300)  NOT NULL,
  ca_pem      TEXT,
  created_by  VARCHAR(200)  NOT NULL,
  created_at  BIGINT        NOT NULL
);

-- One row per alert (rule and subject), reused when the same condition comes back.
-- state: PENDING (condition holds, not yet for long enough), FIRING, RESOLVED.
-- notified: JSON list of the receiver ids told that it fired (they are told it resolved).
CREATE TABLE alerts (
  fingerprint       VARCHAR(64)   PRIMARY KEY,
  rule_id           VARCHAR(40)   NOT NULL,
  rule_name         VARCHAR(63)   NOT NULL,
  subject           VARCHAR(300)  NOT NULL,
  device_id         VARCHAR(40),
  labels            TEXT          NOT NULL,
  annotations       TEXT          NOT NULL,
  state             VARCHAR(10)   NOT NULL,
  since             BIGINT        NOT NULL,
  fired_at          BIGINT,
  resolved_at       BIGINT,
  last_notified_at  BIGINT,
  notified          TEXT          NOT NULL,
  updated_at        BIGINT        NOT NULL
);
CREATE INDEX alerts_state ON alerts (state, resolved_at);
CREATE INDEX alerts_rule ON alerts (rule_id);

-- The outbox: one row per notification and receiver, with the exact body to send, written in the
-- same transaction as the alert's change of state, so that a restart neither loses nor repeats one.
-- state: PENDING, SENT, FAILED (given up after the last attempt).
CREATE TABLE alert_notifications (
  id               VARCHAR(40)   PRIMARY KEY,
  fingerprint      VARCHAR(64)   NOT NULL,
  receiver_id      VARCHAR(40)   NOT NULL REFERENCES alert_receivers (id) ON DELETE CASCADE,
  status           VARCHAR(10)   NOT NULL,
  body             TEXT          NOT NULL,
  state            VARCHAR(10)   NOT NULL,
  attempts         INTEGER       NOT NULL,
  next_attempt_at  BIGINT        NOT NULL,
  last_error       TEXT,
  created_at       BIGINT        NOT NULL,
  seq              BIGINT        NOT NULL,
  sent_at          BIGINT
);
CREATE INDEX alert_notifications_due ON alert_notifications (state, next_attempt_at);
CREATE INDEX alert_notifications_alert ON alert_notifications (fingerprint);
