"""The command line of this experiment: render it, check access, submit it, run it here.

    python main.py render [-o FILE]   write the Argo Workflow YAML to runs/workflow.yaml
                                      (-o - for stdout; touches no network)
    python main.py check [--json]     check access to the cluster and the Argo Server
    python main.py config [--show-origin]
                                      the effective settings (environment.py's defaults
                                      labelled as such)
    python main.py submit [--wait]    check, submit, print the Argo UI link; --wait follows
                                      the run to its end (exit 0 succeeded, 1 failed)
    python main.py local [--volume-dir DIR] [--parallelism N] [--stub-containers]
                                      run the workflow on this machine
    python main.py local --retry RUN_DIR
                                      run it again, reusing the tasks that succeeded
    python main.py results pull [PATH] [--to DIR]
                                      copy files of the volume claim (default: the
                                      experiment's directory) into results/<workflow>/
    python main.py results ls [PATH]  list files of the volume claim
    python main.py logs [WORKFLOW] [--task NAME] [--follow]
                                      the task logs of a submitted workflow (the latest
                                      submission by default)
    python main.py retry [WORKFLOW] [--wait]
                                      re-run the failed tasks of a submitted workflow
    python main.py                    the same as submit

The settings (Argo Server, token, namespace...) come from flags, environment variables
or hera.config: see README.md and `python main.py --help`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hera_utils.experiment.conflicts import exit_on_conflict_markers

PROJECT_DIR = Path(__file__).resolve().parent
# Before importing the experiment's modules: a marker left by `copier update` would be a
# SyntaxError there; this names the file and line instead (exit code 2).
exit_on_conflict_markers(PROJECT_DIR)

from hera.workflows import Workflow  # noqa: E402
from hera_utils import ExperimentEnvironment, Settings, experiment  # noqa: E402

import environment  # noqa: E402
import inputs  # noqa: E402
from layout import ExperimentLayout  # noqa: E402
from workflow import define_workflow  # noqa: E402


def build(env: ExperimentEnvironment) -> Workflow:
    """This experiment's workflow in an environment of execution."""
    return define_workflow(env, inputs, ExperimentLayout(inputs.constants))


def render(args: Settings) -> int:
    """Write the workflow's YAML, built from the settings alone."""
    workflow = build(environment.declared_environment(args))
    return experiment.render(workflow, args.output, project_dir=PROJECT_DIR)


def check(args: Settings) -> int:
    """Run the access checks, as `hera-utils doctor` does."""
    return experiment.check(args, as_json=args.json)


def submit(args: Settings) -> int:
    """Check access, submit the workflow, and with --wait follow it to its end."""
    cluster, argo = experiment.connect(args)
    env = environment.construct_environment(args, cluster, argo)
    return experiment.submit(argo, build(env), args, inputs=inputs, project_dir=PROJECT_DIR)


def local(args: Settings) -> int:
    """Run the workflow on this machine, with a local directory standing for the volume."""
    volume_dir = experiment.local_volume_dir(args, PROJECT_DIR)
    env = environment.local_environment(args, volume_dir)
    return experiment.run_local(build(env), args, project_dir=PROJECT_DIR, volume_dir=volume_dir)


def logs(args: Settings) -> int:
    """Print the task logs of a submitted workflow."""
    _, argo = experiment.connect(args)
    return experiment.logs(argo, args, project_dir=PROJECT_DIR)


def retry(args: Settings) -> int:
    """Re-run the failed part of a submitted workflow; --wait follows it to its end."""
    _, argo = experiment.connect(args)
    return experiment.retry(argo, args, project_dir=PROJECT_DIR)


def results(args: Settings) -> int:
    """Copy (pull) or list (ls) files of the volume claim, through a short-lived pod."""
    env = environment.declared_environment(args)
    layout = ExperimentLayout(inputs.constants)
    return experiment.results(args, env, build(env), layout, project_dir=PROJECT_DIR)


def config(args: Settings) -> int:
    """Show the effective settings; --show-origin says where each came from."""
    return experiment.config(args)


COMMANDS = {
    "render": render,
    "check": check,
    "config": config,
    "submit": submit,
    "local": local,
    "logs": logs,
    "retry": retry,
    "results": results,
}


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand named in `argv` (the command line when None); return its exit code."""
    return experiment.main(
        COMMANDS, argv, description=__doc__, defaults=environment.SETTING_DEFAULTS
    )


if __name__ == "__main__":
    sys.exit(main())
