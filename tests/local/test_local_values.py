"""Numbers and booleans in a manifest become parameter text as Argo prints them."""

from __future__ import annotations

import json
from pathlib import Path

# Argo keeps parameters as strings (AnyString): a YAML number is printed with Go's
# strconv.FormatFloat(v, 'f', -1, 64), so 2.0 is "2" and 1e21 is written out in full.
NUMBERS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: numbers
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: ratio, value: 2.0}
    - {name: tiny, value: 1.5e-7}
    - {name: flag, value: true}
    - {name: choice, value: 1.0, enum: [1.0, 2.5]}
  templates:
  - name: main
    steps:
    - - name: show
        template: show
        arguments:
          parameters: [{name: big, value: 1.0e+21}]
  - name: show
    inputs:
      parameters:
      - {name: big}
      - {name: half, default: 0.50}
      - {name: count, default: 3.0, enum: [3, 4]}
    script:
      image: python:3.11
      command: [python]
      source: |
        print("{{workflow.parameters.ratio}} {{workflow.parameters.tiny}}",
              "{{workflow.parameters.flag}} {{workflow.parameters.choice}}",
              "{{inputs.parameters.big}} {{inputs.parameters.half}} {{inputs.parameters.count}}")
"""


def test_numbers_become_the_text_argo_gives_them(run, tmp_path: Path) -> None:
    manifest = tmp_path / "numbers.yaml"
    manifest.write_text(NUMBERS)

    result = run(manifest)

    assert result.succeeded, result.message
    assert result.task("show").result == "2 0.00000015 true 1 1000000000000000000000 0.5 3"
    summary = json.loads(result.summary_path.read_text())
    assert summary["parameters"] == {"ratio": "2", "tiny": "0.00000015", "flag": "true",
                                     "choice": "1"}


def test_a_parameter_override_is_printed_the_same_way(run, tmp_path: Path) -> None:
    manifest = tmp_path / "numbers.yaml"
    manifest.write_text(NUMBERS)

    result = run(manifest, parameters={"ratio": 4.0, "choice": 2.5})

    assert result.succeeded, result.message
    assert result.task("show").result.startswith("4 0.00000015 true 2.5 ")
