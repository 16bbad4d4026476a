-- How many new devices a token may enroll per minute (NULL: the controller's default).
ALTER TABLE onboarding_tokens ADD COLUMN per_minute INTEGER;
