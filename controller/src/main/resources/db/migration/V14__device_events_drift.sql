-- App status shows each device's recent drift repairs (agent events of kind drift-repaired): read
-- by app, over the last hour, without scanning the whole fleet's recent events.
CREATE INDEX device_events_kind_app ON device_events (kind, app, at);
