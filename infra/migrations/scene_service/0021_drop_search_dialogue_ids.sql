-- search_dialogue_ids() (0005) has had no caller since the dialogue search pages through
-- search_dialogue_page_ids() (0011). It is SECURITY DEFINER: it reads every line whatever the
-- policies say, so a role that can run it learns which lines of private movies match a query.
-- Nothing should keep that door open for no use.
DROP FUNCTION search_dialogue_ids(TEXT);
