-- A device event whose time the controller did not believe (too far ahead of the controller's
-- clock, or older than the event log keeps) is placed at the time it arrived; device_at keeps the
-- time the device claimed. NULL when the device's own time was used.
ALTER TABLE device_events ADD COLUMN device_at BIGINT;
