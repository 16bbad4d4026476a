-- The desired-state signing keys (comma-separated key ids) each device trusts: handed out at
-- enrollment, then as the device reports them. '*' stands for the key the controller had before
-- keys could be rotated, which every device enrolled until then trusts.
CREATE TABLE device_signing_keys (
  device_id   VARCHAR(40)  PRIMARY KEY,
  key_ids     VARCHAR(200) NOT NULL,
  updated_at  BIGINT       NOT NULL
);
INSERT INTO device_signing_keys (device_id, key_ids, updated_at) SELECT id, '*', 0 FROM devices;

-- The key that signed the stored document and the key ids it announced (NULL: signed before
-- keys could be rotated, by that key, announcing none).
ALTER TABLE device_desired ADD COLUMN key_id VARCHAR(40);
ALTER TABLE device_desired ADD COLUMN announced VARCHAR(200);
