"""The bureau's monitoring page and its JSON API (``referrals serve``), and the scorecard
feed as files (``referrals feed export``)."""
