"""What the property tests (hypothesis) draw, and how many cases they run: shared by
the text properties (tests/test_text_properties.py) and the question path's and
formatters' (tests/test_properties.py)."""

from __future__ import annotations

import os
import re

from hypothesis import strategies as st

# Text that exercises what breaks bots: any Unicode, control characters, mention and
# markup syntax, code fences, emoji, long runs.
TRICKY = st.sampled_from(
    [
        "@everyone",
        "@here",
        # real-length ids: Discord ids are snowflakes of 17 to 20 digits, and only
        # mentions of that shape ping (shorter ones would never test the defusing)
        "<@123456789012345678>",
        "<@!45678901234567890>",
        "<@&7890123456789012345>",
        "<@1234>",
        "<#42>",
        "<!channel>",
        "<!here>",
        "<@U12345>",
        "<!subteam^S1>",
        "&",
        "<",
        ">",
        "```",
        "**",
        "\n\n",
        "\x00",
        "\u200b",
        "😀",
        "…",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=60), TRICKY), max_size=40).map("".join)
# Discord pings on bare @everyone / @here and <@id>, <@&role>; Slack only on <!...> and <@U...>
DISCORD_PINGS = re.compile(r"@everyone|@here|<@[!&]?\d{17,20}>")  # ids are snowflakes
SLACK_PINGS = re.compile(r"<!channel>|<!here>|<!everyone>|<@[UW]\w+>|<!subteam")


# `make test` sets ARTICLEBOT_HYPOTHESIS=thorough: then 10,000 cases, whatever profile
# hypothesis happens to have loaded
CASES = 10_000 if os.environ.get("ARTICLEBOT_HYPOTHESIS") == "thorough" else 300


def ran_every_case(cases: list[int], wanted: int = CASES) -> None:
    """Each target really ran the number of cases asked for (10,000 in `make test`)."""
    assert len(cases) >= wanted
