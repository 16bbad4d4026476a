-- Shell session recordings (asciicast v2, decision 0039). The cast itself is a file under the data
-- directory's recordings/ (bounded per session); this row says whose it is and whether it was cut.
CREATE TABLE shell_recordings (
  session_id   VARCHAR(64)   PRIMARY KEY,
  device_id    VARCHAR(64)   NOT NULL,
  actor        VARCHAR(200)  NOT NULL,
  cols         INTEGER       NOT NULL,
  rows_        INTEGER       NOT NULL,
  started_at   BIGINT        NOT NULL,
  ended_at     BIGINT,
  bytes        BIGINT        NOT NULL,
  truncated    BOOLEAN       NOT NULL,
  exit_code    INTEGER,
  end_reason   VARCHAR(500)
);

CREATE INDEX shell_recordings_device ON shell_recordings (device_id);
