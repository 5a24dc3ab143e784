"""Suite-wide settings: every graph pass is followed by the verifier."""
import os

os.environ.setdefault("TC_VERIFY_PASSES", "1")
