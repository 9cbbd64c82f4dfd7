"""Compile a plan of ``mmp.ops.kfp_plan`` (JSON) into a KFP v2 pipeline YAML with the ``kfp`` SDK.

Run as ``python -m mmp.ops.kfp_compile PLAN OUTPUT`` by the Python of the kfp extra's virtualenv,
which holds kfp and its dependencies but not the project's: this module imports only the
standard library and kfp. Each stage is a container component (the component YAML format of
the kfp convention) that pulls its inputs, reproduces the one stage and pushes its outputs;
the evaluate stage also returns the gated metrics as output parameters, and ``register`` runs
under one ``dsl.If`` per gate rule on those outputs.
"""

from __future__ import annotations

import contextlib
import json
import operator
import re
import shlex
import sys
from typing import Any

# The gated figure, read from the evaluate stage's metrics file into a KFP output parameter.
READ_METRIC = "import json,sys; open(sys.argv[3],'w').write(str(json.load(open(sys.argv[1]))[sys.argv[2]]))"


def artifact_name(path: str) -> str:
    """A KFP input/output name for a repository path (metrics/threshold.json -> metrics_threshold_json)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")


def stage_script(step: dict[str, Any], gate: list[dict[str, Any]], gated: bool) -> tuple[str, list[Any], list[dict[str, str]]]:
    """The shell script of one stage, its arguments (artifact and output paths, ``$1``...) and
    its declared outputs. Uncached inputs are copied in from their artifacts first."""
    lines, args, outputs = [], [], []
    for carried in step["takes"]:
        args.append({"inputPath": artifact_name(carried["path"])})
        target = shlex.quote(carried["path"])
        lines.append(f'mkdir -p "$(dirname {target})" && cp -r "${len(args)}" {target}')
    if step["pulls"]:
        lines.append("dvc pull " + " ".join(shlex.quote(p) for p in step["pulls"]))
    lines += [f"dvc repro --single-item {shlex.quote(step['name'])}", f"dvc push {shlex.quote(step['name'])}"]
    for path in step["gives"]:
        args.append({"outputPath": artifact_name(path)})
        outputs.append({"name": artifact_name(path)})
        lines.append(f'mkdir -p "$(dirname "${len(args)}")" && cp -r {shlex.quote(path)} "${len(args)}"')
    for metric in dict.fromkeys(r["metric"] for r in gate) if gated else ():
        args.append({"outputPath": metric})
        outputs.append({"name": metric, "type": "Float"})
        lines.append(f'python -c "{READ_METRIC}" {shlex.quote(step["metrics_file"])} {shlex.quote(metric)} "${len(args)}"')
    return " && ".join(lines), args, outputs


def component_text(name: str, image: str, script: str, args: list[Any], outputs: list[dict[str, str]]) -> str:
    inputs = [{"name": a["inputPath"]} for a in args if "inputPath" in a]
    spec: dict[str, Any] = {
        "name": name,
        "description": f"dvc stage {name}" if name != "register" else "gate and register the candidate model",
        "implementation": {"container": {"image": image, "command": ["sh", "-ec", script, name], "args": args}},
    }
    spec.update({k: v for k, v in (("inputs", inputs), ("outputs", outputs)) if v})
    return json.dumps(spec)  # JSON is YAML


def compile_plan(plan: dict[str, Any], output: str) -> None:
    from kfp import compiler, components, dsl

    gate, gate_stage = plan["gate"], plan["gate_stage"]
    factories = {}
    for step in plan["steps"]:
        script, args, outputs = stage_script(step, gate, step["name"] == gate_stage)
        factories[step["name"]] = components.load_component_from_text(component_text(step["name"], plan["image"], script, args, outputs))
    register = components.load_component_from_text(component_text("register", plan["image"], plan["register_command"], [], []))

    @dsl.pipeline(name=plan["name"], description="dvc.yaml's stages, then register when the evaluate gate passes")
    def pipeline():  # no annotation: kfp reads a return annotation as the pipeline's output
        tasks: dict[str, Any] = {}
        for step in plan["steps"]:
            carried = {artifact_name(c["path"]): tasks[c["producer"]].outputs[artifact_name(c["path"])] for c in step["takes"]}
            task = factories[step["name"]](**carried)
            for upstream in step["after"]:
                task.after(tasks[upstream])
            tasks[step["name"]] = task
        evaluated = tasks[gate_stage]
        with contextlib.ExitStack() as conditions:
            for rule in gate:
                conditions.enter_context(dsl.If(_compare(evaluated.outputs[rule["metric"]], rule["op"], rule["value"]), name=_rule(rule)))
            last = register()
            for name in plan["register_after"]:
                last.after(tasks[name])

    compiler.Compiler().compile(pipeline, output)


def _compare(channel: Any, op: str, value: float) -> Any:
    """A KFP condition: comparing a task output builds one (``ConditionOperator``)."""
    return {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}[op](channel, value)


def _rule(rule: dict[str, Any]) -> str:
    return f"{rule['metric']} {rule['op']} {rule['value']:g}"


def main(argv: list[str]) -> None:
    plan_file, output = argv
    with open(plan_file) as handle:
        compile_plan(json.load(handle), output)


if __name__ == "__main__":
    main(sys.argv[1:])
