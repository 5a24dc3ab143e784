"""Schedules over TE programs and their lowering into the loop IR."""
from .defaults import default_schedule, schedule_space
from .knobs import InvalidConfig, Knob, Knobs
from .lower import lower
from .schedule import Schedule, ScheduleError, Stage, apply_steps, create_schedule

__all__ = ["InvalidConfig", "Knob", "Knobs", "Schedule", "ScheduleError", "Stage", "apply_steps",
           "create_schedule", "default_schedule", "lower", "schedule_space"]
