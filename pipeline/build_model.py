"""Build the spaCy Chinese pipeline with the pkuseg segmenter under ``models/``.

spacy-pkuseg's own model downloads come from GitHub, which is out of reach; the PyPI wheel
``pkuseg==0.0.12`` ships a CTB8-trained model in a format spacy-pkuseg still loads. We fetch that
wheel with pip (never install it: it would shadow spacy-pkuseg), convert it once and save a
self-contained spaCy pipeline that the NLP stage loads from disk.

    python -m pipeline.build_model --out models/zh_pkuseg --user-dict models/userdict.txt
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PKUSEG_WHEEL = "pkuseg==0.0.12"
MODEL_IN_WHEEL = "pkuseg/models/ctb8/"


def fetch_ctb8(cache_dir: Path) -> Path:
    """Download the pkuseg wheel into ``cache_dir`` (once) and unpack its CTB8 model; return its folder."""
    model_dir = cache_dir / "ctb8"
    if (model_dir / "model.txt").exists():
        return model_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache_dir.glob("pkuseg-0.0.12-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(cache_dir), PKUSEG_WHEEL],
            check=True,
        )
        wheels = sorted(cache_dir.glob("pkuseg-0.0.12-*.whl"))
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp, zipfile.ZipFile(wheels[0]) as wheel:
        members = [name for name in wheel.namelist() if name.startswith(MODEL_IN_WHEEL)]
        wheel.extractall(tmp, members)
        shutil.move(str(Path(tmp) / MODEL_IN_WHEEL), model_dir)
    return model_dir


def build(out: Path, user_dict: Path, cache_dir: Path) -> None:
    """Convert the CTB8 model into a spaCy pipeline at ``out`` using ``user_dict`` (one word per line)."""
    from spacy.lang.zh import Chinese

    ctb8 = fetch_ctb8(cache_dir)
    nlp = Chinese.from_config({"nlp": {"tokenizer": {"segmenter": "pkuseg"}}})
    nlp.tokenizer.initialize(pkuseg_model=str(ctb8), pkuseg_user_dict=str(user_dict))
    nlp.meta["name"] = "zh_pkuseg_ctb8"
    nlp.meta["description"] = (
        f"pkuseg CTB8 model from the PyPI wheel {PKUSEG_WHEEL}, user dictionary {user_dict.name}"
    )
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    nlp.to_disk(staging)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)  # the model appears whole or not at all


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/zh_pkuseg"))
    parser.add_argument("--user-dict", type=Path, default=Path("models/userdict.txt"))
    parser.add_argument("--cache", type=Path, default=Path("models/.cache"))
    args = parser.parse_args(argv)
    build(args.out, args.user_dict, args.cache)
    print(f"built {args.out}")


if __name__ == "__main__":
    main()
