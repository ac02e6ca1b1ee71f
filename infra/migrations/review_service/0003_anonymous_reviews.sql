-- A review whose author was erased stays, anonymous (ReviewAnonymized): what it says, its rating
-- and its reactions are kept, its author link is not. user_id NULL means "anonymous"; such a
-- review is visible only while public (the row-level security policy matches no author).
ALTER TABLE reviews ALTER COLUMN user_id DROP NOT NULL;
