"""The compiler: graph IR, ops, passes, tensor expressions, schedules, loop IR, build."""
