-- Tunnel sessions (decision 0038): one row per stream through a device's connection (a kubectl
-- request, a port-forward connection, a shell). Written once for SQLite and PostgreSQL: portable
-- types, epoch millis.
--
-- kind: kube, tcp, shell, file. detail: what the stream reached (e.g. "GET /api/v1/pods",
-- "127.0.0.1:8080"). bytes_in: from the device; bytes_out: to the device. ended_at and end_reason
-- are null while the session runs; end_reason is "closed" for a clean end, otherwise why it was
-- reset (e.g. "link lost: ...").
CREATE TABLE tunnel_sessions (
  id           VARCHAR(40)   PRIMARY KEY,
  device       VARCHAR(64)   NOT NULL,
  kind         VARCHAR(16)   NOT NULL,
  actor        VARCHAR(200)  NOT NULL,
  detail       VARCHAR(500)  NOT NULL,
  started_at   BIGINT        NOT NULL,
  ended_at     BIGINT,
  bytes_in     BIGINT        NOT NULL,
  bytes_out    BIGINT        NOT NULL,
  end_reason   VARCHAR(1000)
);

CREATE INDEX tunnel_sessions_started ON tunnel_sessions (started_at);
CREATE INDEX tunnel_sessions_device ON tunnel_sessions (device, started_at);
