"""Autotuning: tasks (the tunable workloads of a model) and the tuning log.

    tasks = tc.autotune.extract_tasks("model.onnx", "llvm")
    log = tc.autotune.TuningLog("tune.jsonl")
    config = log.best(tasks[0].target, tasks[0].key)
"""
from .log import FORMAT_VERSION, LogVersionError, TuningLog, config_key, make_record
from .tasks import Task, extract_tasks

__all__ = ["FORMAT_VERSION", "LogVersionError", "Task", "TuningLog", "config_key",
           "extract_tasks", "make_record"]
