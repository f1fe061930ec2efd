"""The agents' state: Faust tables in memory for what is live, the SQL archive for the rest."""
