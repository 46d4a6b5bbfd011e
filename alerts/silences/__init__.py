"""Silences and maintenance windows: matching, holding and releasing notifications."""
