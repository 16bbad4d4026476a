-- The directory of controller replicas sharing this database: each one's name (as it names itself
-- as a device's holder in device_presence), the internal URL the other replicas reach it at, and
-- when it last said it was alive (epoch milliseconds). Rows of replicas silent for longer than the
-- directory's timeout are ignored, and removed by a later registration.
CREATE TABLE controller_replicas (
    name VARCHAR(200) PRIMARY KEY,
    url VARCHAR(2048) NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
