"""Schedules and sensors: what triggers runs."""
