from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import ValidationError

from commands.scene import CreateScene

pytestmark = pytest.mark.unit


def test_a_nul_character_in_any_text_field_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        CreateScene(movie_id=uuid4(), start="1", end="2", classification="L2", description="a\x00b")
    [error] = err.value.errors()
    assert error["loc"] == ("description",)
    assert "NUL" in error["msg"]


def test_a_nul_character_inside_a_tuple_of_tags_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        CreateScene(movie_id=uuid4(), start="1", end="2", classification="L2", tags=("ok", "\x00"))
    assert err.value.errors()[0]["loc"] == ("tags",)
