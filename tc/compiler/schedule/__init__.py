"""Schedules over TE programs and their lowering into the loop IR."""
from .defaults import default_schedule
from .lower import lower
from .schedule import Schedule, ScheduleError, Stage, apply_steps, create_schedule

__all__ = ["Schedule", "ScheduleError", "Stage", "apply_steps", "create_schedule", "default_schedule", "lower"]
