-- Device names are unique, so every message that names a device names exactly one. Of devices
-- enrolled earlier that share a name, the oldest keeps it and the others get their id appended.
UPDATE devices SET name = substr(name, 1, 150) || '-' || id
 WHERE EXISTS (SELECT 1 FROM devices o
                WHERE o.name = devices.name
                  AND (o.created_at < devices.created_at
                       OR (o.created_at = devices.created_at AND o.id < devices.id)));
CREATE UNIQUE INDEX devices_name ON devices (name);
