-- Why an app that targets a device is not placed on it: the device cannot run the app's kind of
-- workload (a container app on a node without a container engine). Null when it is placed.
ALTER TABLE device_apps ADD COLUMN not_placed TEXT;

-- The workload of a bundle: the runtime it needs (null for Kubernetes objects) and the blobs it
-- uses as a JSON list of {digest, size}, so a device returning to an older bundle (a rollback) is
-- told its artifacts again.
ALTER TABLE bundles ADD COLUMN runtime VARCHAR(20);
ALTER TABLE bundles ADD COLUMN artifacts TEXT;
