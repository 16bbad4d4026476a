-- The certificate a device renewed from stays valid until the device uses its new one, so a
-- device that crashed before saving the renewed certificate is not locked out.
ALTER TABLE devices ADD COLUMN previous_certificate_serial VARCHAR(64);
