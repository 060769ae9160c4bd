from appliance.counter import handle
from appliance.members import add_member

from .conftest import T0


def test_a_known_card_gets_a_stamp(box):
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    result = handle("04:a2:3b:4c:5d:6e:7f", "test", now=T0)
    assert result.status == "stamped"
    assert result.card["stamps"] == 1
