"""``import tc`` is cheap and inert: no threads, no compiler, onnx or torch modules loaded."""
import subprocess
import sys


def test_import_is_inert():
    code = (
        "import sys, threading, tc\n"
        "heavy = [m for m in ('llvmlite', 'onnx', 'cffi', 'torch', 'tc.compiler.build') if m in sys.modules]\n"
        "print(threading.active_count(), heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1 []"
