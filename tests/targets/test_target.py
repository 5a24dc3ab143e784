import re

import pytest

from tc.targets import Target


@pytest.mark.parametrize("text", [
    "llvm",
    "llvm -mcpu=znver3 -mattr=+avx2,+fma",
    "llvm -mtriple=aarch64-linux-gnu",
    "llvm -mtriple=x86_64-unknown-linux-gnu -mcpu=skylake-avx512 -mattr=+avx512f,-avx512vl",
    "c",
    "cuda -arch=sm_90",
    "c -workspace=static",
])
def test_parse_round_trips(text):
    t = Target.parse(text)
    assert Target.parse(str(t)) == t
    assert str(t) == text


def test_parse_fields():
    t = Target.parse("llvm -mcpu=znver3 -mattr=+avx2,+fma")
    assert (t.kind, t.mcpu, t.mattr, t.mtriple) == ("llvm", "znver3", ("+avx2", "+fma"), "")
    cuda = Target.parse("cuda -arch=sm_90")
    assert cuda.kind == "cuda" and cuda.option("arch") == "sm_90"
    assert Target.parse("  llvm   -mcpu=haswell ") == Target("llvm", mcpu="haswell")
    assert Target.parse(t) is t


@pytest.mark.parametrize("text, fragment", [
    ("gpu", "unknown target kind"),
    ("", "empty"),
    ("llvm -mcpu", "malformed target option"),
    ("llvm mcpu=znver3", "malformed target option"),
    ("llvm -mattr=avx2", "must start with + or -"),
    ("cuda -mcpu=sm_90", "llvm targets only"),
    ("llvm -mcpu=a -mcpu=b", "given twice"),
])
def test_parse_errors_say_what_is_accepted(text, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as info:
        Target.parse(text)
    if "twice" not in fragment and "+ or -" not in fragment:
        assert "cuda [-arch=sm_90]" in str(info.value)


def test_host_resolution_matches_this_machine():
    import llvmlite.binding as llvm

    host = Target.parse("llvm").resolved()
    assert host.mcpu == llvm.get_host_cpu_name()
    assert host.mtriple == llvm.get_default_triple()
    feats = llvm.get_host_cpu_features()
    expected = 64 if feats.get("avx512f") else 32 if feats.get("avx") else 16
    assert Target.parse("llvm").vector_bytes == expected
    assert Target.parse("llvm").vector_width("float32") == expected // 4
    assert Target.parse("llvm").vector_width("float64") == expected // 8
    assert Target.parse("llvm").vector_width("int8") == expected


def test_vector_width_from_attributes_and_cpu_names():
    assert Target.parse("llvm -mattr=+avx2,+fma").vector_width("float32") == 8
    assert Target.parse("llvm -mattr=+avx512f").vector_width("float32") == 16
    assert Target.parse("llvm -mattr=+sse4.2").vector_width("float32") == 4
    assert Target.parse("llvm -mcpu=skylake-avx512").vector_width("float64") == 8
    assert Target.parse("llvm -mcpu=znver3").vector_width("int16") == 16
    arm = Target.parse("llvm -mtriple=aarch64-linux-gnu")
    assert arm.vector_width("float32") == 4 and arm.num_vector_registers == 32
    assert arm.resolved().mcpu == "generic"
    assert Target.parse("llvm -mattr=+avx2").num_vector_registers == 16
    assert Target.parse("llvm -mattr=+avx512f").num_vector_registers == 32


def test_explicit_attributes_do_not_inherit_host_cpu():
    t = Target.parse("llvm -mattr=+sse4.2").resolved()
    assert t.mcpu == "generic" and t.mattr == ("+sse4.2",)


def test_cache_sizes_are_plausible():
    t = Target.parse("llvm")
    l1, l2, l3 = (t.cache_bytes(k) for k in (1, 2, 3))
    assert 8 * 1024 <= l1 <= l2 <= l3
    with pytest.raises(ValueError):
        t.cache_bytes(4)


def test_importing_targets_does_not_initialize_llvm():
    import subprocess
    import sys

    code = ("import tc.targets, llvmlite.binding as llvm;"
            "from tc.targets import llvm as backend;"
            "print(backend._llvm.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_constructor_normalizes_and_validates():
    t = Target("llvm", mattr=["+avx2"], options={"b": "2", "a": "1"})
    assert t.mattr == ("+avx2",) and t.options == (("a", "1"), ("b", "2"))
    assert hash(t) == hash(Target.parse(str(t)))
    with pytest.raises(ValueError, match="unknown target kind"):
        Target("tpu")
