-- A metric summary whose window ended early because the agent stopped (or was recovered after a
-- crash at its last saved sample): [from_at, at] is what was sampled, not the planned window.
ALTER TABLE device_metrics ADD COLUMN partial BOOLEAN NOT NULL DEFAULT FALSE;
