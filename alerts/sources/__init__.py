"""Alert sources beside the rule engine: each turns facts it watches into alerts (issue #12)."""
