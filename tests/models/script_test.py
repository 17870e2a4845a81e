"""What the model script tests (se_fusion_test.py, concat_test.py, residual_in_place_test.py,
nchwc_layout_test.py) share: their command line, cnncc's --dump of a model, and the run of the
compiled program against PyTorch's output by run_model_test.py."""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(doc):
    """--cnncc PATH --work DIR [--cc gcc] [--cflags ...] [--threads N]."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    return args


def dump_lines(cnncc, model, stage, extra=()):
    """The IR lines cnncc --dump=STAGE prints for model (compiled next to it, in dump/)."""
    out = os.path.join(os.path.dirname(model), "dump", "m.c")
    p = subprocess.run([cnncc, model, "-o", out, "--dump=" + stage] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    text = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        print(text)
        raise SystemExit("FAIL: cnncc --dump=%s exited with status %d" % (stage, p.returncode))
    return text.splitlines()


def run_against_pytorch(model_dir, args, cnncc_flags=""):
    """Compiles (cnncc with CNNCC_FLAGS, e.g. "--no-nchwc"), builds and runs
    MODEL_DIR/model.onnx with run_model_test.py (first output against MODEL_DIR/expected.npy);
    the outputs land in MODEL_DIR/run/res. True on a pass."""
    cmd = [sys.executable, os.path.join(HERE, "run_model_test.py"), model_dir, "--cnncc",
           args.cnncc, "--cc", args.cc, "--cflags=" + args.cflags, "--threads", str(args.threads),
           "--cnncc-flags=" + cnncc_flags, "--work", os.path.join(model_dir, "run"),
           "--timeout", "280"]
    sys.stdout.flush()
    return subprocess.run(cmd).returncode == 0
