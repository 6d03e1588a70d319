-- An admin's password reset sets a temporary password that must be replaced at the next login
-- (docs/security.md): until then a login with it is refused unless it carries a new password.
ALTER TABLE users ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
