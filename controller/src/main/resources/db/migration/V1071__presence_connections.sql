-- When the connection a presence row speaks of was opened: news of an older connection (its
-- replica writing its close late) never replaces news of a newer one. 0: unknown.
ALTER TABLE device_presence ADD COLUMN connected_at BIGINT NOT NULL DEFAULT 0;
