-- User erasure (UserErased, infra/pii.py): an erased user's row stays (reviews, counts and the
-- stream version refer to it) without any personal data. email and password_hash become
-- nullable: NULL means erased (UNIQUE still holds among the addresses there are, and an erased
-- user can never log in). erased_at says when; an erased row holds no personal data and is
-- inactive. A live user always has an e-mail address: a row without one is erased, or a user
-- whose sign-up event was read after their erasure (the projection then makes it inactive).
ALTER TABLE users
    ALTER COLUMN email DROP NOT NULL,
    ALTER COLUMN password_hash DROP NOT NULL,
    ADD COLUMN erased_at TIMESTAMP WITH TIME ZONE,
    ADD CONSTRAINT users_erased_without_personal_data CHECK (
        erased_at IS NULL
        OR (email IS NULL AND password_hash IS NULL AND display_name IS NULL AND avatar_url IS NULL
            AND NOT is_active)
    ),
    ADD CONSTRAINT users_active_with_email CHECK (
        NOT is_active OR (email IS NOT NULL AND password_hash IS NOT NULL)
    );

