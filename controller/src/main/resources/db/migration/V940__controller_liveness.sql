-- When the controller last ran: written every few seconds while it runs, read when it starts, so
-- that time devices spent waiting for a stopped controller is not taken for devices going offline.
CREATE TABLE controller_liveness (
  id          VARCHAR(20)  PRIMARY KEY,
  started_at  BIGINT       NOT NULL,
  alive_at    BIGINT       NOT NULL
);
