"""augintae_tf.cpu: CPU feature detection, the oneDNN switch and the slow-setting warnings."""
from augintae_tf import cpu

AVX2_EPYC = """processor	: 0
vendor_id	: AuthenticAMD
model name	: AMD EPYC 7B12
flags		: fpu sse2 avx avx2 fma bmi2 sha_ni
processor	: 1
model name	: AMD EPYC 7B12
flags		: fpu sse2 avx avx2 fma bmi2 sha_ni
"""
SAPPHIRE = "model name\t: Intel(R) Xeon(R) Platinum 8481C\nflags\t\t: avx avx2 fma avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16\n"


def test_parse_cpuinfo_reads_the_first_processor():
    model, flags = cpu.parse_cpuinfo(AVX2_EPYC)
    assert model == "AMD EPYC 7B12"
    assert flags == frozenset({"fpu", "sse2", "avx", "avx2", "fma", "bmi2", "sha_ni"})
    assert cpu.parse_cpuinfo("") == (None, None)


def test_onednn_default_follows_tensorflows_rule():
    avx2 = cpu.parse_cpuinfo(AVX2_EPYC)[1]
    amx = cpu.parse_cpuinfo(SAPPHIRE)[1]
    assert cpu.onednn_on_by_default(avx2, "x86_64") is False
    assert cpu.onednn_on_by_default(amx, "x86_64") is True
    assert cpu.onednn_on_by_default(frozenset({"avx512_vnni"}), "AMD64") is True
    assert cpu.onednn_on_by_default(avx2, "aarch64") is None


def test_enable_onednn_only_where_tensorflow_leaves_it_off():
    avx2 = cpu.parse_cpuinfo(AVX2_EPYC)[1]
    amx = cpu.parse_cpuinfo(SAPPHIRE)[1]
    env: dict[str, str] = {}
    assert cpu.enable_onednn(env, False, avx2, "x86_64") is True
    assert env == {"TF_ENABLE_ONEDNN_OPTS": "1"}
    user_off = {"TF_ENABLE_ONEDNN_OPTS": "0"}  # the user's choice wins
    assert cpu.enable_onednn(user_off, False, avx2, "x86_64") is False
    assert user_off == {"TF_ENABLE_ONEDNN_OPTS": "0"}
    late: dict[str, str] = {}  # TensorFlow already imported: setting it would change nothing
    assert cpu.enable_onednn(late, True, avx2, "x86_64") is False and late == {}
    on_anyway: dict[str, str] = {}
    assert cpu.enable_onednn(on_anyway, False, amx, "x86_64") is False and on_anyway == {}


def test_package_import_sets_onednn_before_tensorflow(monkeypatch):
    """What `import augintae_tf` leaves behind, in a fresh interpreter: on this machine either
    TensorFlow's own default is on, or the package turned it on; oneDNN runs in both cases."""
    from tests.conftest import run_python

    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    proc = run_python("import os, augintae_tf\nfrom augintae_tf import cpu\n"
                      "set_ = os.environ.get('TF_ENABLE_ONEDNN_OPTS')\n"
                      "print(cpu.onednn_on_by_default(), set_, cpu.onednn_enabled())", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    default, set_, enabled = proc.stdout.split()
    if default == "False":
        assert (set_, enabled) == ("1", "True")
    elif default == "True":
        assert (set_, enabled) == ("None", "True")


def test_slow_setting_warnings_name_the_setting_and_the_fix():
    kwargs = dict(native_bf16=False, onednn=True, onednn_env="1")
    (bf16,) = cpu.slow_setting_warnings("mixed_bfloat16", "auto", False, **kwargs)
    assert bf16.startswith("train.precision 'mixed_bfloat16': this CPU (")
    assert bf16.endswith("has no native bfloat16 (AVX512_BF16 or AMX); the train step measured "
                         "several times slower than float32 on such a CPU (benchmarks/RESULTS.md, "
                         '"Train step vs the PyTorch twin"); use --precision float32')
    (xla,) = cpu.slow_setting_warnings("float32", "on", False, **kwargs)
    assert xla == ("train.jit 'on': XLA on a CPU measured slower than without it with TensorFlow's "
                   'oneDNN kernels on (benchmarks/RESULTS.md, "Train step vs the PyTorch twin"); '
                   "use --jit auto (off on a CPU)")
    (off,) = cpu.slow_setting_warnings("float32", "auto", False, native_bf16=True, onednn=False,
                                       onednn_env=None)
    assert "set TF_ENABLE_ONEDNN_OPTS=1 before importing tensorflow" in off
    # Quiet: a GPU; native bf16; XLA when oneDNN is off (XLA is the faster one then); the user's
    # own TF_ENABLE_ONEDNN_OPTS=0.
    assert cpu.slow_setting_warnings("mixed_bfloat16", "on", True, **kwargs) == []
    assert cpu.slow_setting_warnings("mixed_bfloat16", "auto", False, native_bf16=True,
                                     onednn=True, onednn_env=None) == []
    assert cpu.slow_setting_warnings("float32", "on", False, native_bf16=None, onednn=False,
                                     onednn_env="0") == []


def test_train_dry_run_prints_the_xla_warning(tmp_path):
    from click.testing import CliRunner

    from augintae_tf.cli.main import main

    result = CliRunner().invoke(main, ["train", "--dry-run", "--jit", "--set", "model.width=0.05",
                                      "--runs-root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    onednn = cpu.onednn_enabled()
    assert ("warning: train.jit 'on': XLA on a CPU measured" in result.output) == bool(onednn)
