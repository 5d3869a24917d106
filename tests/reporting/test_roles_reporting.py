"""The column roles section: each role, and the champion's where it differs, flagged."""

from reporting import roles


def test_roles_section_flags_columns_whose_role_changed_since_the_champion():
    challenger = {"review": "text", "created": "datetime", "id": "identifier"}
    champion = {"review": "categorical", "created": "datetime", "id": "identifier", "old": "numeric"}
    assert roles.differences(challenger, champion) == {"review": ["text", "categorical"], "old": [None, "numeric"]}
    page = roles.section(challenger, champion)
    assert "2 column(s) with another role than the champion's: review, old." in page
    assert page.count('<tr class="flagged">') == 2
    assert "Same roles as the champion" in roles.section(challenger, dict(challenger))
    assert "<th class=\"l\">role</th>" in roles.section(challenger) and roles.section({}) == ""
