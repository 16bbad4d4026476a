-- The revision each device last reported READY for an app: what it really runs, shown as RUNNING
-- while a newer revision is applying or has failed.
ALTER TABLE device_apps ADD COLUMN ready_revision VARCHAR(100);
UPDATE device_apps SET ready_revision = running_revision WHERE phase = 'READY';
