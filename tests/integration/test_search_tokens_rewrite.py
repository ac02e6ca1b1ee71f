"""search_tokens() as rewritten by scene_service 0019 gives the tokens of its 0005 body, repeats included.

Only their order in the array changed (all 1-character tokens first): every use is a GIN key set
or ``@>`` containment, so the indexes built with the old body stay valid. The old body is
created here as a temporary function and both are compared as sorted arrays.
"""

from __future__ import annotations

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.test_projection_batch_path import ON_A_DATABASE

pytestmark = pytest.mark.integration

_OLD_BODY = """
CREATE OR REPLACE FUNCTION pg_temp.search_tokens_0005(t TEXT) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
DECLARE
    n TEXT := lower(CASE WHEN t IS NFKC NORMALIZED THEN t ELSE normalize(t, NFKC) END);
    len INTEGER := char_length(n);
    tokens TEXT[] := '{}';
BEGIN
    FOR i IN 1..len LOOP
        tokens := tokens || substr(n, i, 1);
        IF i < len THEN
            tokens := tokens || substr(n, i, 2);
        END IF;
    END LOOP;
    RETURN tokens;
END
$$
"""

_SAME = """
SELECT t FROM unnest($1::text[]) AS t
WHERE ARRAY(SELECT x COLLATE "C" FROM unnest(search_tokens(t)) AS x ORDER BY 1)
      IS DISTINCT FROM ARRAY(SELECT x COLLATE "C" FROM unnest(pg_temp.search_tokens_0005(t)) AS x ORDER BY 1)
"""

_TEXTS = st.lists(
    st.text(
        # Kana, kanji, full-width and accented Latin, spaces: what NFKC and lower() change.
        alphabet=st.one_of(
            st.sampled_from("あいアイｱｲ東京ＡＢｃ１２ÉéÅ ﬁ①ｶﾞ"),
            st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        ),
        max_size=30,
    ),
    min_size=1,
    max_size=40,
)


@settings(ON_A_DATABASE, max_examples=60)
@given(texts=_TEXTS)
async def test_search_tokens_gives_the_tokens_of_its_first_body(db: asyncpg.Pool, texts: list[str]) -> None:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(_OLD_BODY)
        assert await conn.fetch(_SAME, texts) == []
