-- Presence shared between controller replicas: which replica holds each device's connection (null:
-- none), when the connection closed, and when the row was last written (refreshes read the rows
-- written since their previous read).
ALTER TABLE device_presence ADD COLUMN replica VARCHAR(200);
ALTER TABLE device_presence ADD COLUMN disconnected_at BIGINT;
ALTER TABLE device_presence ADD COLUMN written_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX device_presence_written ON device_presence (written_at);
