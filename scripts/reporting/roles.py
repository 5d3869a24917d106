"""The column roles section of a report: each column's role, and where the champion's differs."""

from __future__ import annotations

from typing import Mapping

from . import svg


def differences(challenger: Mapping[str, str], champion: Mapping[str, str]) -> dict[str, list]:
    """{column: [challenger's role, champion's role]} for every column whose role differs (None: absent)."""
    names = list(dict.fromkeys([*challenger, *champion]))
    return {c: [challenger.get(c), champion.get(c)] for c in names if challenger.get(c) != champion.get(c)}


def section(roles: Mapping[str, str] | None, champion_roles: Mapping[str, str] | None = None) -> str:
    """An HTML section; rows where the champion's role differs are flagged. Empty without roles."""
    if not roles:
        return ""
    if champion_roles is None:
        rows = [[column, role] for column, role in roles.items()]
        return "<h2>Columns</h2>" + svg.table(["column", "role"], rows, left=2)
    changed = differences(roles, champion_roles)
    rows = [[c, roles.get(c) or "absent", champion_roles.get(c) or "absent (or before roles)"]
            for c in dict.fromkeys([*roles, *champion_roles])]
    note = (f'<p class="note">{len(changed)} column(s) with another role than the champion\'s: '
            f'{svg.esc(", ".join(changed))}.</p>' if changed else '<p class="note">Same roles as the champion.</p>')
    return ("<h2>Columns</h2>" + note
            + svg.table(["column", "challenger", "champion"], rows, left=3,
                        row_classes=["flagged" if r[0] in changed else "" for r in rows]))
